/**
 * Builds a thin HTTP Lambda handler from a table of route handlers: API Gateway v2 event in,
 * structured result out, errors mapped by {@link errorsToHttp}. Dependencies are resolved once
 * per container (lazily, so importing a handler never touches the environment).
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { z } from 'zod';
import type { Principal } from '#core/authorization.ts';
import { badRequest, notFound, unauthenticated } from '#core/errors.ts';
import { errorsToHttp, jsonResponse } from './errors-to-http.ts';
import { withLogContext } from './logger.ts';

export interface HttpResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RequestContext<D> {
  event: APIGatewayProxyEventV2;
  deps: D;
  /** Path parameter, percent-decoded; 400 when missing. */
  param(name: string): string;
  query(name: string): string | undefined;
  /** Lower-case header names. */
  header(name: string): string | undefined;
  /** The raw body text (base64 decoded when needed). */
  rawBody(): string;
  /** The JSON body validated by the schema: 400 for no body, malformed JSON or schema violations. */
  body<S extends z.ZodType>(schema: S): z.infer<S>;
  /** The caller of a `token` route: 401 without a valid bearer token. */
  principal(): Promise<Principal>;
}

export type RouteHandler<D> = (ctx: RequestContext<D>) => Promise<HttpResult>;

export interface HttpDeps {
  tokens: { verify(token: string): Promise<Principal> };
  /** Flushed after every request (adapters/metrics.ts). */
  metrics?: { flush(): void };
}

const rawBodyOf = (event: APIGatewayProxyEventV2): string => {
  if (event.body === undefined || event.body === null) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
};

const contextOf = <D extends HttpDeps>(event: APIGatewayProxyEventV2, deps: D): RequestContext<D> => {
  const headers = event.headers ?? {};
  const header = (name: string) => headers[name.toLowerCase()];
  return {
    event,
    deps,
    param(name) {
      const raw = event.pathParameters?.[name];
      if (raw === undefined || raw === '') throw badRequest(`path parameter ${name} is required`);
      try {
        return decodeURIComponent(raw);
      } catch {
        throw badRequest(`path parameter ${name} is not valid percent-encoding: ${raw}`);
      }
    },
    query: (name) => event.queryStringParameters?.[name],
    header,
    rawBody: () => rawBodyOf(event),
    body(schema) {
      const text = rawBodyOf(event);
      if (!text.trim()) throw badRequest('request body required (application/json)');
      const type = header('content-type');
      if (type && !/^application\/(.+\+)?json\b/i.test(type)) {
        throw badRequest(`content-type must be application/json, got ${type}`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw badRequest(`malformed JSON: ${(e as Error).message}`);
      }
      return schema.parse(json);
    },
    async principal() {
      const auth = header('authorization');
      const match = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
      if (!match?.[1]) throw unauthenticated('bearer token required (POST /auth/token to get one)');
      return deps.tokens.verify(match[1]);
    },
  };
};

/** Memoizes a dependency factory: one resolution per container, retried after a failure. */
export const once = <D>(factory: () => Promise<D>): (() => Promise<D>) => {
  let value: Promise<D> | undefined;
  return () => {
    if (!value) {
      value = factory();
      value.catch(() => {
        value = undefined;
      });
    }
    return value;
  };
};

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export const httpFunction = <D extends HttpDeps>(
  routes: Record<string, RouteHandler<D>>,
  deps: () => Promise<D>,
): ApiHandler => {
  const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(errorsToHttp())
    .handler(async (event) => {
      const route = routes[event.routeKey];
      if (!route) throw notFound(`no such route: ${event.routeKey}`);
      const d = await deps();
      try {
        const result = await route(contextOf(event, d));
        return result.status === 204
          ? { statusCode: 204, headers: result.headers ?? {}, body: '' }
          : jsonResponse(result.status, result.body, result.headers);
      } finally {
        d.metrics?.flush();
      }
    }) as unknown as ApiHandler;
  // Every log line of a request (the error middleware's too) carries its id, and the call's fields
  // the route handler adds (addLogContext).
  return (event, context) =>
    withLogContext({ requestId: event.requestContext?.requestId }, () => handler(event, context));
};
