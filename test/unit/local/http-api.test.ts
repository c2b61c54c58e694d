import { request as httpRequest } from 'node:http';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ApiHandler,
  type LocalHttpApi,
  matchRoute,
  startLocalHttpApi,
  toApiGatewayEvent,
} from '#local/http-api.ts';
import { type FunctionName, ROUTES, type RouteSpec } from '../../../lib/routes.ts';

const EDGE_TOKEN = 'edge-secret-token';
const SIP_URI = 'sip:fire-1@primary.example';

describe('matchRoute', () => {
  it('matches literal routes and leaves no path parameters', () => {
    const m = matchRoute(ROUTES, 'GET', '/health');
    expect(m?.route).toMatchObject({ path: '/health', fn: 'health' });
    expect(m?.pathParameters).toEqual({});
  });

  it('decodes plain and percent-encoded SIP URI parameters alike', () => {
    for (const p of [SIP_URI, encodeURIComponent(SIP_URI)]) {
      const m = matchRoute(ROUTES, 'PUT', `/groups/sip%3Agroup-1%40primary.example/members/${p}`);
      expect(m?.route.path).toBe('/groups/{groupId}/members/{mcpttId}');
      expect(m?.pathParameters).toEqual({ groupId: 'sip:group-1@primary.example', mcpttId: SIP_URI });
    }
  });

  it('requires the method, every segment and non-empty parameters', () => {
    expect(matchRoute(ROUTES, 'PATCH', '/users')).toBeUndefined();
    expect(matchRoute(ROUTES, 'GET', '/users/')).toBeUndefined();
    expect(matchRoute(ROUTES, 'GET', '/users/a/b')).toBeUndefined();
    expect(matchRoute(ROUTES, 'GET', '/nope')).toBeUndefined();
    expect(matchRoute(ROUTES, 'get', '/users?x=1')?.route.path).toBe('/users');
  });

  it('prefers literal segments over parameters, parameters over greedy ones', () => {
    const routes: RouteSpec[] = [
      { method: 'GET', path: '/a/{proxy+}', fn: 'health', auth: 'none' },
      { method: 'GET', path: '/a/{id}', fn: 'users', auth: 'none' },
      { method: 'GET', path: '/a/me', fn: 'auth', auth: 'none' },
    ];
    expect(matchRoute(routes, 'GET', '/a/me')?.route.fn).toBe('auth');
    expect(matchRoute(routes, 'GET', '/a/x')?.route.fn).toBe('users');
    expect(matchRoute(routes, 'GET', '/a/x/y%2Fz')).toMatchObject({
      route: { fn: 'health' },
      pathParameters: { proxy: 'x/y/z' },
    });
  });
});

describe('toApiGatewayEvent', () => {
  it('builds a payload 2.0 event', () => {
    const match = matchRoute(ROUTES, 'GET', '/users/u1');
    const event = toApiGatewayEvent(
      {
        method: 'GET',
        url: '/users/u1?a=1&a=2&b=x%20y+z&flag',
        rawHeaders: ['Host', 'h.example:8080', 'X-Multi', 'one', 'x-multi', 'two', 'Cookie', 'c1=1; c2=2'],
      },
      { match, requestId: 'req-1', now: new Date(Date.UTC(2020, 2, 12, 19, 3, 58, 390)) },
    );
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /users/{mcpttId}',
      rawPath: '/users/u1',
      rawQueryString: 'a=1&a=2&b=x%20y+z&flag',
      cookies: ['c1=1', 'c2=2'],
      queryStringParameters: { a: '1,2', b: 'x y z', flag: '' },
      pathParameters: { mcpttId: 'u1' },
      isBase64Encoded: false,
      requestContext: {
        accountId: 'local',
        apiId: 'local',
        domainName: 'h.example:8080',
        domainPrefix: 'h',
        requestId: 'req-1',
        routeKey: 'GET /users/{mcpttId}',
        stage: '$default',
        time: '12/Mar/2020:19:03:58 +0000',
        timeEpoch: 1584039838390,
        http: { method: 'GET', path: '/users/u1', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
      },
    });
    expect(event.headers).toMatchObject({
      host: 'h.example:8080',
      'x-multi': 'one,two',
      'x-forwarded-port': '8080',
    });
    expect(event.headers.cookie).toBeUndefined();
    expect(event.body).toBeUndefined();
  });

  it('leaves out query parameters, path parameters and cookies when there are none', () => {
    const event = toApiGatewayEvent({ method: 'GET', url: '/health', rawHeaders: [] });
    expect(event.queryStringParameters).toBeUndefined();
    expect(event.pathParameters).toBeUndefined();
    expect(event.cookies).toBeUndefined();
    expect(event.routeKey).toBe('$default');
  });
});

describe('startLocalHttpApi', () => {
  let api: LocalHttpApi;
  const logs: { routeKey: string | undefined; status: number }[] = [];
  const calls: { fn: FunctionName; event: APIGatewayProxyEventV2; context: Context }[] = [];
  let behaviour: ApiHandler;

  beforeAll(async () => {
    api = await startLocalHttpApi({
      port: 0,
      routes: ROUTES,
      edgeToken: EDGE_TOKEN,
      maxBodyBytes: 1024,
      handlerFor: (fn) => async (event, context) => {
        calls.push({ fn, event, context });
        return behaviour(event, context);
      },
      onRequest: (l) => logs.push(l),
    });
  });
  afterAll(async () => {
    await api?.close();
  });
  beforeEach(() => {
    calls.length = 0;
    behaviour = async () => ({ statusCode: 204 });
  });

  it('listens on 127.0.0.1 only', () => {
    expect(api.url).toBe(`http://127.0.0.1:${api.port}`);
    expect(api.port).toBeGreaterThan(0);
  });

  it('passes an encoded SIP URI path parameter decoded, with a Lambda context', async () => {
    behaviour = async (event) => ({ statusCode: 200, body: JSON.stringify(event.pathParameters) });
    const res = await fetch(`${api.url}/users/${encodeURIComponent(SIP_URI)}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ mcpttId: SIP_URI });
    expect(res.headers.get('x-amzn-requestid')).toBe(calls[0]?.event.requestContext.requestId);
    expect(calls[0]?.fn).toBe('users');
    expect(calls[0]?.context.functionName).toBe('users');
    expect(calls[0]?.context.getRemainingTimeInMillis()).toBeGreaterThan(0);
    expect(calls[0]?.event.rawPath).toBe(`/users/${encodeURIComponent(SIP_URI)}`);
    expect(logs.at(-1)).toMatchObject({ routeKey: 'GET /users/{mcpttId}', status: 200 });
  });

  it('answers 404 without a route (unknown path or method)', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['PATCH', '/users'],
    ] as const) {
      const res = await fetch(`${api.url}${path}`, { method });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ message: 'Not Found' });
    }
    expect(calls).toHaveLength(0);
  });

  it('guards edge routes with the edge bearer token', async () => {
    const url = `${api.url}/edge/registrations/${encodeURIComponent(SIP_URI)}`;
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${EDGE_TOKEN}`, `Bearer ${EDGE_TOKEN}x`]) {
      const res = await fetch(url, authorization ? { headers: { authorization } } : {});
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ message: 'Forbidden' });
    }
    expect(calls).toHaveLength(0);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${EDGE_TOKEN}` } });
    expect(ok.status).toBe(204);
    expect(calls[0]?.fn).toBe('registration');
  });

  it('does not require the edge token on other routes', async () => {
    expect((await fetch(`${api.url}/health`)).status).toBe(204);
  });

  it('passes JSON and XML bodies as text, binary ones as base64', async () => {
    const post = (body: string | Uint8Array, contentType?: string) =>
      fetch(`${api.url}/users`, {
        method: 'POST',
        body,
        ...(contentType ? { headers: { 'content-type': contentType } } : {}),
      });
    await post('{"a":"é"}', 'application/json; charset=utf-8');
    await post('<presence/>', 'application/pidf+xml');
    await post(new Uint8Array([0, 1, 2, 255]), 'application/octet-stream');
    expect(calls.map((c) => [c.event.body, c.event.isBase64Encoded])).toEqual([
      ['{"a":"é"}', false],
      ['<presence/>', false],
      [Buffer.from([0, 1, 2, 255]).toString('base64'), true],
    ]);
  });

  it('answers 413 over maxBodyBytes without invoking the handler', async () => {
    const res = await fetch(`${api.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ big: 'x'.repeat(2048) }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ message: 'Request Entity Too Large' });
    expect(calls).toHaveLength(0);
  });

  it('answers 413 to a chunked body over the limit', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${api.url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      for (let i = 0; i < 4; i++) req.write('y'.repeat(400));
      req.end();
    });
    expect(status).toBe(413);
    expect(JSON.parse(body)).toEqual({ message: 'Request Entity Too Large' });
  });

  it('maps a structured result: status, headers, cookies, base64 body', async () => {
    behaviour = async () => ({
      statusCode: 201,
      headers: { 'content-type': 'application/octet-stream', 'x-count': 3 },
      cookies: ['a=1; Path=/', 'b=2'],
      body: Buffer.from([9, 8, 7]).toString('base64'),
      isBase64Encoded: true,
    });
    const res = await fetch(`${api.url}/users`, { method: 'POST' });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('x-count')).toBe('3');
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([9, 8, 7]));
  });

  it('maps a plain object, string or nothing to 200 JSON', async () => {
    const results: unknown[] = [{ message: 'hi' }, 'Hello', undefined, [1, 2]];
    const bodies: string[] = [];
    for (const r of results) {
      behaviour = async () => r as object;
      const res = await fetch(`${api.url}/health`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      bodies.push(await res.text());
    }
    expect(bodies).toEqual(['{"message":"hi"}', 'Hello', '', '[1,2]']);
  });

  it('answers 500 when a handler throws or returns a malformed result, and keeps serving', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      for (const b of [
        async () => {
          throw new Error('boom');
        },
        async () => ({ statusCode: 'teapot' }),
      ] as ApiHandler[]) {
        behaviour = b;
        const res = await fetch(`${api.url}/groups`);
        expect(res.status).toBe(500);
        expect(await res.json()).toEqual({ message: 'Internal Server Error' });
      }
      expect(errors).toHaveBeenCalledTimes(2);
      expect(String(errors.mock.calls[0]?.[1])).toContain('boom');
    } finally {
      errors.mockRestore();
    }
    behaviour = async () => ({ statusCode: 200, body: 'ok' });
    expect(await (await fetch(`${api.url}/groups`)).text()).toBe('ok');
  });

  it('passes query parameters, cookies and joined repeated headers', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${api.url}/regroups?state=active&state=pending&q=tel%3A%2B1555`, {
        headers: [
          'Host',
          `127.0.0.1:${api.port}`,
          'Cookie',
          'session=abc; theme=dark',
          'X-Trace',
          'a',
          'x-trace',
          'b',
        ],
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(204);
    const event = calls[0]?.event;
    expect(event?.queryStringParameters).toEqual({ state: 'active,pending', q: 'tel:+1555' });
    expect(event?.rawQueryString).toBe('state=active&state=pending&q=tel%3A%2B1555');
    expect(event?.cookies).toEqual(['session=abc', 'theme=dark']);
    expect(event?.headers['x-trace']).toBe('a,b');
    expect(event?.requestContext.http.sourceIp).toBe('127.0.0.1');
  });

  it('closes at once despite idle keep-alive connections', async () => {
    const other = await startLocalHttpApi({
      port: 0,
      routes: ROUTES,
      edgeToken: 'x',
      handlerFor: () => async () => 'ok',
    });
    expect((await fetch(`${other.url}/health`)).status).toBe(200);
    const t0 = performance.now();
    await other.close();
    expect(performance.now() - t0).toBeLessThan(500);
    await expect(fetch(`${other.url}/health`)).rejects.toThrow();
  });
});
