/**
 * Domain errors. Every failure the core can report is a {@link DomainError} with a stable
 * `code`; the HTTP layer maps codes to statuses in one place (functions/shared/errors-to-http.ts)
 * and the SIP edge maps them to SIP status + Warning in one place.
 */
export type DomainErrorCode =
  | 'bad_request' // input failed validation (400)
  | 'unauthenticated' // no or bad credentials / signature (401)
  | 'forbidden' // authenticated but not allowed (403)
  | 'not_found' // unknown user, group, temporary group, agreement (404)
  | 'conflict' // already exists, already regrouped, state does not allow it (409)
  | 'partner_refused' // a partner answered no (409)
  | 'partner_unavailable' // a partner could not be reached or answered garbage (502)
  | 'partner_timeout'; // a partner did not answer in time (504)

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  /** Extra machine-readable facts for the caller (e.g. which partner refused). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: DomainErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'DomainError';
    this.code = code;
    this.details = options.details;
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>): DomainError =>
  new DomainError('bad_request', message, details ? { details } : {});
export const notFound = (message: string, details?: Record<string, unknown>): DomainError =>
  new DomainError('not_found', message, details ? { details } : {});
export const forbidden = (message: string, details?: Record<string, unknown>): DomainError =>
  new DomainError('forbidden', message, details ? { details } : {});
export const conflict = (message: string, details?: Record<string, unknown>): DomainError =>
  new DomainError('conflict', message, details ? { details } : {});
export const unauthenticated = (message: string): DomainError => new DomainError('unauthenticated', message);
