/**
 * Authenticates a partner API request: signature with the agreement's key, timestamp within the
 * allowed skew, and a nonce never seen before (recorded in the store, so a replay fails even on
 * another container). Forged, expired or replayed → 401, before anything is read or written.
 */
import { unauthenticated } from '#core/errors.ts';
import type { PartnerAgreement } from '#core/model.ts';
import { verifySignedRequest } from '#core/request-signing.ts';
import type { AppDeps } from './deps.ts';
import type { RequestContext } from './http-function.ts';

export const SIGNATURE_MAX_SKEW_MS = 300_000;

export const authenticatePartner = async (ctx: RequestContext<AppDeps>): Promise<PartnerAgreement> => {
  const { event, deps } = ctx;
  const sender = ctx.header('x-mcptt-system')?.toLowerCase();
  if (!sender) throw unauthenticated('unsigned request: x-mcptt-system header missing');
  const agreement = await deps.store.getAgreement(sender);
  if (!agreement) throw unauthenticated(`no agreement with ${sender}`);
  const now = deps.now();
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const verified = verifySignedRequest({
    method: event.requestContext.http.method,
    path: event.rawPath,
    target: deps.system,
    headers,
    body: ctx.rawBody(),
    now,
    maxSkewMs: SIGNATURE_MAX_SKEW_MS,
    lookupKey: (s, keyId) =>
      s === agreement.partner && keyId === agreement.keyId ? agreement.key : undefined,
  });
  // The nonce is kept as long as its timestamp could still pass the skew check.
  const fresh = await deps.store.recordNonce(
    agreement.partner,
    verified.nonce,
    verified.timestamp + SIGNATURE_MAX_SKEW_MS + 1,
    now,
  );
  if (!fresh) throw unauthenticated('replayed request: nonce already used');
  return agreement;
};
