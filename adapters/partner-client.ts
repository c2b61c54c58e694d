/**
 * HTTPS client for partner systems' partner APIs. Every request is signed with the key of the
 * agreement (core/request-signing.ts) and bounded by a timeout. Transport failures become
 * `partner_unavailable` / `partner_timeout` errors that name the partner.
 */
import { DomainError } from '#core/errors.ts';
import type { EpochMs, PartnerAgreement, SystemDomain } from '#core/model.ts';
import { signRequest } from '#core/request-signing.ts';

export interface PartnerResponse {
  status: number;
  body: unknown;
}

export interface PartnerClient {
  send(
    agreement: PartnerAgreement,
    request: { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string; body?: unknown },
  ): Promise<PartnerResponse>;
}

export interface HttpPartnerClientOptions {
  /** Our own system domain (the sender). */
  system: SystemDomain;
  timeoutMs: number;
  now?: () => EpochMs;
  fetch?: typeof fetch;
}

export const createHttpPartnerClient = (opts: HttpPartnerClientOptions): PartnerClient => {
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  return {
    async send(agreement, request) {
      const body = request.body === undefined ? '' : JSON.stringify(request.body);
      const headers = signRequest({
        method: request.method,
        path: request.path,
        sender: opts.system,
        target: agreement.partner,
        keyId: agreement.keyId,
        key: agreement.key,
        body,
        now: now(),
      });
      // The path is absolute: keep any base path of the partner's API URL (e.g. a stage) in front of it.
      const base = new URL(agreement.apiUrl);
      const url = new URL(base.pathname.replace(/\/$/, '') + request.path, base);
      let res: Response;
      try {
        res = await doFetch(url, {
          method: request.method,
          headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body } : {}),
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
      } catch (e) {
        const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
        const reason = timedOut
          ? `no answer within ${opts.timeoutMs} ms`
          : `unreachable at ${agreement.apiUrl}: ${describeFetchError(e)}`;
        throw new DomainError(
          timedOut ? 'partner_timeout' : 'partner_unavailable',
          `partner ${agreement.partner} ${reason}`,
          {
            details: { partner: agreement.partner, reason },
            cause: e,
          },
        );
      }
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // keep the raw text: the caller reports it as the partner's reason
      }
      return { status: res.status, body: parsed };
    },
  };
};

const describeFetchError = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? e.message;
};
