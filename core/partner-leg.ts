/**
 * Invitations between systems: the primary invites a partner's member by sending the INVITE to
 * the partner's edge; the partner authorizes the leg with its own functions before relaying it to
 * its member. The primary's functions sign the leg with the agreement key (core/request-signing.ts),
 * carried as SIP header fields `X-MCPTT-System`, `X-MCPTT-Key-Id`, `X-MCPTT-Timestamp`,
 * `X-MCPTT-Nonce`, `X-MCPTT-Signature`, with the temporary group in `X-MCPTT-TGI` and the call in
 * `X-MCPTT-Call` (covered by the signature).
 */
import type { SipUri } from './model.ts';

/** The SIP header carrying the TGI a partner leg belongs to. */
export const TGI_HEADER = 'X-MCPTT-TGI';
/**
 * The SIP header carrying the call a partner leg belongs to (the call id of the interrogation that
 * found the member), so the partner can check the leg against what that interrogation found.
 */
export const CALL_HEADER = 'X-MCPTT-Call';

/**
 * The "path" and "body" a leg signature covers: the invited member, the temporary group and, when
 * the leg names it, the call.
 */
export const legSignatureParts = (leg: {
  member: SipUri;
  tgi: SipUri;
  callId?: string;
}): { method: 'INVITE'; path: string; body: string } => ({
  method: 'INVITE',
  path: `/sip-leg/${encodeURIComponent(leg.member)}`,
  body: leg.callId === undefined ? leg.tgi : `${leg.tgi}\n${leg.callId}`,
});
