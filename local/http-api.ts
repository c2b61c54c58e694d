/**
 * A local stand-in for an API Gateway HTTP API (Lambda proxy integration, payload format 2.0).
 * It serves the route table of lib/routes.ts with the same handlers as in AWS: it builds
 * `APIGatewayProxyEventV2` events, emulates the IAM authorizer of `edge` routes with a bearer token,
 * and maps handler results to HTTP responses the way API Gateway does.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { type ApiFunctionName, type RouteSpec, routeKey } from '../lib/routes.ts';
import { createLambdaContext } from './lambda-context.ts';

/** A Lambda handler behind an HTTP API route (payload format 2.0). */
export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2 | string | object | undefined>;

/** Options of {@link startLocalHttpApi}. */
export interface LocalHttpApiOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port; 0 picks an ephemeral one. */
  port: number;
  routes: readonly RouteSpec[];
  /** Handler of a function, resolved on each request (so it may load lazily). */
  handlerFor: (fn: ApiFunctionName) => ApiHandler;
  /** Bearer token standing in for IAM (SigV4) auth on `edge` routes. */
  edgeToken: string;
  /** `requestContext.apiId`. Default `local`. */
  apiId?: string;
  /** `requestContext.stage`. Default `$default`. */
  stage?: string;
  /** Largest accepted request body. Default 10 MiB, like API Gateway. */
  maxBodyBytes?: number;
  /** Function timeout given to the Lambda context, milliseconds. Default 30 s. */
  functionTimeoutMs?: number;
  /** Called once per request after the response is sent. */
  onRequest?: (log: {
    method: string;
    path: string;
    routeKey: string | undefined;
    status: number;
    ms: number;
  }) => void;
}

/** A running local HTTP API. */
export interface LocalHttpApi {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  port: number;
  /** Stops listening and closes all connections (idle keep-alive ones included) at once. */
  close(): Promise<void>;
}

/** A route matched by {@link matchRoute}, with its percent-decoded path parameters. */
export interface RouteMatch {
  route: RouteSpec;
  pathParameters: Record<string, string>;
}

/** A request as received, the input of {@link toApiGatewayEvent}. */
export interface LocalHttpRequest {
  method: string;
  /** Request target as received: path and optional `?query`. */
  url: string;
  /** Flat `[name, value, name, value, …]` list, like `IncomingMessage.rawHeaders`. */
  rawHeaders: readonly string[];
  body?: Buffer | undefined;
  /** Default `127.0.0.1`. */
  sourceIp?: string | undefined;
  /** Default `HTTP/1.1`. */
  protocol?: string | undefined;
}

/** Request-context values of {@link toApiGatewayEvent}; all have defaults. */
export interface ApiGatewayEventOptions {
  /** Matched route; without one the route key is `$default`. */
  match?: RouteMatch | undefined;
  apiId?: string;
  stage?: string;
  /** Default: the `host` header, else `localhost`. */
  domainName?: string;
  /** Default: a random UUID. */
  requestId?: string;
  /** Default: now. */
  now?: Date;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

// ---------------------------------------------------------------------------------------------
// Route matching

type Segment =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string }
  | { kind: 'greedy'; name: string };

interface CompiledRoute {
  route: RouteSpec;
  segments: Segment[];
}

const compiledCache = new WeakMap<readonly RouteSpec[], CompiledRoute[]>();

const compileRoute = (route: RouteSpec): CompiledRoute => ({
  route,
  segments: route.path
    .split('/')
    .slice(1)
    .map((s): Segment => {
      const param = /^\{([^{}+]+)(\+?)\}$/.exec(s);
      if (!param?.[1]) return { kind: 'literal', value: s };
      return param[2] ? { kind: 'greedy', name: param[1] } : { kind: 'param', name: param[1] };
    }),
});

const compiled = (routes: readonly RouteSpec[]): CompiledRoute[] => {
  let c = compiledCache.get(routes);
  if (!c) {
    c = routes.map(compileRoute);
    compiledCache.set(routes, c);
  }
  return c;
};

/** Percent-decodes a path segment; a malformed escape is kept as received. */
const decodePathSegment = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

const RANK: Record<Segment['kind'], number> = { literal: 2, param: 1, greedy: 0 };

/** Negative when `a` is more specific than `b` (literal beats `{param}` beats `{param+}`, left to right). */
const bySpecificity = (a: CompiledRoute, b: CompiledRoute): number => {
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const ra = a.segments[i] ? RANK[a.segments[i]?.kind ?? 'greedy'] : -1;
    const rb = b.segments[i] ? RANK[b.segments[i]?.kind ?? 'greedy'] : -1;
    if (ra !== rb) return rb - ra;
  }
  return 0;
};

const matchSegments = (
  segments: readonly Segment[],
  parts: readonly string[],
): Record<string, string> | undefined => {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    const part = parts[i];
    if (seg === undefined) return undefined;
    if (seg.kind === 'greedy') {
      const rest = parts.slice(i);
      if (rest.length === 0 || rest.join('') === '') return undefined;
      params[seg.name] = rest.map(decodePathSegment).join('/');
      return params;
    }
    if (part === undefined) return undefined;
    const value = decodePathSegment(part);
    if (seg.kind === 'literal') {
      if (value !== seg.value) return undefined;
    } else {
      if (part === '') return undefined;
      params[seg.name] = value;
    }
  }
  return parts.length === segments.length ? params : undefined;
};

/**
 * Finds the route of a request like API Gateway: same method, path segments matching literally or
 * as `{param}` (one non-empty segment) or `{param+}` (the rest), the most specific route winning.
 *
 * @param routes - Route table (lib/routes.ts).
 * @param method - HTTP method, any case.
 * @param path - Raw request path (a `?query` suffix is ignored); parameters are percent-decoded,
 *   so `/users/sip%3Afire-1%40primary.example` and `/users/sip:fire-1@primary.example` both give
 *   `mcpttId` = `sip:fire-1@primary.example`.
 * @returns The route and its path parameters, or `undefined` (API Gateway answers 404).
 */
export function matchRoute(
  routes: readonly RouteSpec[],
  method: string,
  path: string,
): RouteMatch | undefined {
  const m = method.toUpperCase();
  const rawPath = path.split('?', 1)[0] ?? '';
  if (!rawPath.startsWith('/')) return undefined;
  const parts = rawPath.split('/').slice(1);
  let best: { c: CompiledRoute; params: Record<string, string> } | undefined;
  for (const c of compiled(routes)) {
    if (c.route.method !== m) continue;
    const params = matchSegments(c.segments, parts);
    if (params && (!best || bySpecificity(c, best.c) < 0)) best = { c, params };
  }
  return best && { route: best.c.route, pathParameters: best.params };
}

// ---------------------------------------------------------------------------------------------
// Request → event

/** Form-style decoding of a query component (`+` is a space, like API Gateway). */
const decodeQueryComponent = (s: string): string => {
  const spaced = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
};

const parseQuery = (raw: string): Record<string, string> | undefined => {
  const out: Record<string, string> = {};
  let any = false;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeQueryComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeQueryComponent(pair.slice(eq + 1));
    out[name] = name in out ? `${out[name]},${value}` : value;
    any = true;
  }
  return any ? out : undefined;
};

/** Whether API Gateway passes a body of this content type as text rather than base64. */
const isTextContentType = (contentType: string | undefined): boolean => {
  if (!contentType) return false;
  const t = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
  return (
    t.startsWith('text/') ||
    t.endsWith('+json') ||
    t.endsWith('+xml') ||
    t === 'application/json' ||
    t === 'application/xml' ||
    t === 'application/javascript' ||
    t === 'application/x-www-form-urlencoded' ||
    t === 'application/sdp'
  );
};

const formatRequestTime = (d: Date): string =>
  `${String(d.getUTCDate()).padStart(2, '0')}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
  `${d.toISOString().slice(11, 19)} +0000`;

/**
 * Builds the payload-format-2.0 event API Gateway would send for a request: lower-case headers with
 * repeats joined by `,` (`cookie` moved to `cookies`), `x-forwarded-*` added, query parameters
 * decoded (repeats joined by `,`, `undefined` when none), body as text for text-like content types
 * (text/*, JSON, XML, form, SDP) and base64 otherwise.
 *
 * @param req - The request as received.
 * @param options - Matched route and request-context values.
 */
export function toApiGatewayEvent(
  req: LocalHttpRequest,
  options: ApiGatewayEventOptions = {},
): APIGatewayProxyEventV2 {
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const rawQueryString = q < 0 ? '' : req.url.slice(q + 1);
  const sourceIp = req.sourceIp ?? '127.0.0.1';

  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    const value = req.rawHeaders[i + 1] ?? '';
    if (name === 'cookie') {
      for (const c of value.split(';')) if (c.trim() !== '') cookies.push(c.trim());
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const host = headers.host;
  headers['x-forwarded-for'] = headers['x-forwarded-for']
    ? `${headers['x-forwarded-for']}, ${sourceIp}`
    : sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  const hostPort = host ? /:(\d+)$/.exec(host)?.[1] : undefined;
  headers['x-forwarded-port'] ??= hostPort ?? '80';

  const domainName = options.domainName ?? host ?? 'localhost';
  const now = options.now ?? new Date();
  const key = options.match ? routeKey(options.match.route) : '$default';
  const hasParams = options.match && Object.keys(options.match.pathParameters).length > 0;
  const body = req.body && req.body.length > 0 ? req.body : undefined;
  const asText = body !== undefined && isTextContentType(headers['content-type']);

  return {
    version: '2.0',
    routeKey: key,
    rawPath,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    queryStringParameters: parseQuery(rawQueryString),
    requestContext: {
      accountId: 'local',
      apiId: options.apiId ?? 'local',
      domainName,
      domainPrefix: domainName.split('.', 1)[0] ?? domainName,
      http: {
        method: req.method.toUpperCase(),
        path: rawPath,
        protocol: req.protocol ?? 'HTTP/1.1',
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: options.requestId ?? randomUUID(),
      routeKey: key,
      stage: options.stage ?? '$default',
      time: formatRequestTime(now),
      timeEpoch: now.getTime(),
    },
    ...(body !== undefined ? { body: asText ? body.toString('utf8') : body.toString('base64') } : {}),
    pathParameters: hasParams ? { ...options.match?.pathParameters } : undefined,
    isBase64Encoded: body !== undefined && !asText,
  };
}

// ---------------------------------------------------------------------------------------------
// Result → response

interface HttpResult {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

const jsonMessage = (status: number, message: string): HttpResult => ({
  status,
  headers: [['content-type', 'application/json']],
  body: Buffer.from(JSON.stringify({ message })),
});

const NOT_FOUND = (): HttpResult => jsonMessage(404, 'Not Found');
const FORBIDDEN = (): HttpResult => jsonMessage(403, 'Forbidden');
const TOO_LARGE = (): HttpResult => jsonMessage(413, 'Request Entity Too Large');
const INTERNAL = (): HttpResult => jsonMessage(500, 'Internal Server Error');

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Thrown for a structured result API Gateway would reject (it answers 500). */
class MalformedResultError extends Error {}

/**
 * Maps a handler result like API Gateway (format 2.0): an object with `statusCode` is a structured
 * result; anything else is sent as a 200 JSON body (a string as is, other values serialized).
 */
const toHttpResult = (result: unknown): HttpResult => {
  if (isRecord(result) && !Array.isArray(result) && 'statusCode' in result) {
    const { statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded } = result;
    if (
      typeof statusCode !== 'number' ||
      !Number.isInteger(statusCode) ||
      statusCode < 100 ||
      statusCode > 599
    ) {
      throw new MalformedResultError(`invalid statusCode: ${String(statusCode)}`);
    }
    if (body !== undefined && body !== null && typeof body !== 'string') {
      throw new MalformedResultError('body must be a string');
    }
    const out: [string, string][] = [];
    if (isRecord(headers)) {
      for (const [k, v] of Object.entries(headers))
        if (v !== undefined && v !== null) out.push([k, String(v)]);
    }
    if (isRecord(multiValueHeaders)) {
      for (const [k, vs] of Object.entries(multiValueHeaders)) {
        if (Array.isArray(vs)) for (const v of vs) out.push([k, String(v)]);
      }
    }
    if (Array.isArray(cookies)) for (const c of cookies) out.push(['set-cookie', String(c)]);
    const text = typeof body === 'string' ? body : '';
    return {
      status: statusCode,
      headers: out,
      body: isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8'),
    };
  }
  const text =
    result === undefined || result === null
      ? ''
      : typeof result === 'string'
        ? result
        : JSON.stringify(result);
  return {
    status: 200,
    headers: [['content-type', 'application/json']],
    body: Buffer.from(text ?? '', 'utf8'),
  };
};

// ---------------------------------------------------------------------------------------------
// Server

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time check of `authorization: Bearer <token>`. */
const hasBearer = (authorization: string | undefined, expected: string): boolean => {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  const given = m?.[1];
  if (!given || expected === '') return false;
  return timingSafeEqual(sha256(given), sha256(expected));
};

/** Reads the body; `undefined` when it exceeds `max` (the rest is drained and discarded). */
const readBody = (req: IncomingMessage, max: number): Promise<Buffer | undefined> =>
  new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    let tooLarge = Number.isFinite(declared) && declared > max;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > max) {
        tooLarge = true;
        chunks.length = 0;
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });

const send = (res: ServerResponse, result: HttpResult, requestId: string, closeConnection = false): void => {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = result.status;
  for (const [name, value] of result.headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection') continue;
    const prev = res.getHeader(lower);
    if (lower === 'set-cookie' || prev !== undefined) {
      const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
      res.setHeader(lower, [...list, value]);
    } else res.setHeader(lower, value);
  }
  res.setHeader('x-amzn-requestid', requestId);
  res.setHeader('apigw-requestid', requestId);
  res.setHeader('content-length', result.body.length);
  if (closeConnection) res.setHeader('connection', 'close');
  res.end(result.body);
};

/**
 * Starts the local HTTP API on `host` (default 127.0.0.1): routes from `opts.routes`, `edge` routes
 * behind the edge bearer token (403 `{"message":"Forbidden"}` without invoking the handler), 404
 * `{"message":"Not Found"}` without a route, 413 over `maxBodyBytes`, 500
 * `{"message":"Internal Server Error"}` when a handler throws or returns a malformed result (logged
 * to stderr; the server keeps running). Every response carries `x-amzn-requestid`.
 *
 * @returns The base URL, the bound port and `close()`.
 */
export async function startLocalHttpApi(opts: LocalHttpApiOptions): Promise<LocalHttpApi> {
  const host = opts.host ?? '127.0.0.1';
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const apiId = opts.apiId ?? 'local';
  const stage = opts.stage ?? '$default';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const requestId = randomUUID();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0] ?? '/';
    const match = matchRoute(opts.routes, method, path);
    let result: HttpResult;
    let closeConnection = false;
    try {
      const body = await readBody(req, maxBodyBytes);
      if (!match) result = NOT_FOUND();
      else if (body === undefined) {
        result = TOO_LARGE();
        closeConnection = true;
      } else if (match.route.auth === 'edge' && !hasBearer(req.headers.authorization, opts.edgeToken)) {
        result = FORBIDDEN();
      } else {
        const event = toApiGatewayEvent(
          {
            method,
            url,
            rawHeaders: req.rawHeaders,
            body,
            sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, ''),
            protocol: `HTTP/${req.httpVersion}`,
          },
          { match, apiId, stage, requestId },
        );
        const fn = match.route.fn;
        try {
          const context = createLambdaContext(fn, opts.functionTimeoutMs);
          const handler = opts.handlerFor(fn);
          result = toHttpResult(await handler(event, context));
        } catch (err) {
          console.error(
            `[local-http-api] ${routeKey(match.route)} (${fn}) failed, request ${requestId}:`,
            err,
          );
          result = INTERNAL();
        }
      }
    } catch (err) {
      console.error(`[local-http-api] ${method} ${path} failed, request ${requestId}:`, err);
      result = INTERNAL();
    }
    send(res, result, requestId, closeConnection);
    try {
      opts.onRequest?.({
        method,
        path,
        routeKey: match ? routeKey(match.route) : undefined,
        status: result.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      });
    } catch (err) {
      console.error('[local-http-api] onRequest failed:', err);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('[local-http-api] unexpected error:', err);
      if (!res.headersSent && !res.destroyed) send(res, INTERNAL(), randomUUID(), true);
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => console.error('[local-http-api] server error:', err));

  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
