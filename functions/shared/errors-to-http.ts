/**
 * The one place where errors become HTTP responses. Domain errors keep their message and
 * details; validation errors list every issue; anything else is a logged 500 without internals.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ZodError } from 'zod';
import { DomainError, type DomainErrorCode } from '#core/errors.ts';
import { logger } from './logger.ts';

const STATUS: Record<DomainErrorCode, number> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  partner_refused: 409,
  partner_unavailable: 502,
  partner_timeout: 504,
};

export const jsonResponse = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: body === undefined ? '' : JSON.stringify(body),
});

/** Renders a zod issue path like `constituents[1]`. */
const pathOf = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    '',
  );

export const errorToResponse = (error: unknown, requestId?: string): APIGatewayProxyStructuredResultV2 => {
  if (error instanceof DomainError) {
    const status = STATUS[error.code];
    const headers: Record<string, string> =
      error.code === 'unauthenticated' ? { 'www-authenticate': 'Bearer realm="mcptt"' } : {};
    if (status >= 500) logger.warn(error.message, { code: error.code, ...error.details, requestId });
    return jsonResponse(status, { error: error.code, message: error.message, ...error.details }, headers);
  }
  if (error instanceof ZodError) {
    const issues = error.issues.map((i) => ({ path: pathOf(i.path), message: i.message }));
    const message = `invalid request: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`;
    return jsonResponse(400, { error: 'bad_request', message, issues });
  }
  logger.error('unhandled error', {
    requestId,
    error:
      error instanceof Error
        ? { name: error.name, message: error.message, stack: error.stack }
        : String(error),
  });
  return jsonResponse(500, { error: 'internal', message: 'internal error', requestId });
};

/** middy middleware: maps any thrown error to its HTTP response. */
export const errorsToHttp = (): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> => ({
  onError: async (request) => {
    request.response = errorToResponse(request.error, request.event.requestContext?.requestId);
  },
});
