/**
 * Invitations between systems: the primary invites a partner's member by sending the INVITE to
 * the partner's edge; the partner authorizes the leg with its own functions before relaying it to
 * its member. The primary's functions sign the leg with the agreement key (core/request-signing.ts),
 * carried as SIP header fields `X-MCPTT-System`, `X-MCPTT-Key-Id`, `X-MCPTT-Timestamp`,
 * `X-MCPTT-Nonce`, `X-MCPTT-Signature`, with the temporary group in `X-MCPTT-TGI`.
 */
import type { SipUri } from './model.ts';

/** The SIP header carrying the TGI a partner leg belongs to. */
export const TGI_HEADER = 'X-MCPTT-TGI';

/** The "path" and "body" a leg signature covers: the invited member and the temporary group. */
export const legSignatureParts = (leg: {
  member: SipUri;
  tgi: SipUri;
}): { method: 'INVITE'; path: string; body: string } => ({
  method: 'INVITE',
  path: `/sip-leg/${encodeURIComponent(leg.member)}`,
  body: leg.tgi,
});
