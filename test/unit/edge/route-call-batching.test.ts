/** The edge asks the functions about INVITEs of the same turn in one request (edge/functions-client.ts). */
import { describe, expect, it } from 'vitest';
import { createFunctionsClient } from '../../../edge/functions-client.ts';

type Sent = { body: unknown };

const fakeFetch = (answer: (body: Record<string, unknown>) => { status: number; json: unknown }) => {
  const sent: Sent[] = [];
  const fetch = (async (_url: string, init: { body: string }) => {
    const body = JSON.parse(init.body) as Record<string, unknown>;
    sent.push({ body });
    const a = answer(body);
    return new Response(JSON.stringify(a.json), {
      status: a.status,
      headers: { 'content-type': 'application/json' },
    });
  }) as unknown as typeof globalThis.fetch;
  return { sent, fetch };
};

const routeFor = (target: unknown) => ({ action: 'reject', status: 404, reason: `no ${String(target)}` });

describe('edge functions client: routeCall batching', () => {
  it('sends a lone INVITE on its own, in the single-call shape', async () => {
    const f = fakeFetch((b) => ({ status: 200, json: routeFor(b.target) }));
    const client = createFunctionsClient({ baseUrl: 'http://api', edgeToken: 't', fetch: f.fetch });
    expect(await client.routeCall('sip:a@x', 'sip:b@x', 'c1')).toEqual(routeFor('sip:b@x'));
    expect(f.sent).toEqual([{ body: { caller: 'sip:a@x', target: 'sip:b@x', callId: 'c1' } }]);
  });

  it('sends INVITEs of the same turn in one request and gives each its own route', async () => {
    const f = fakeFetch((b) => ({
      status: 200,
      json: { routes: (b.calls as { target: string }[]).map((c) => routeFor(c.target)) },
    }));
    const client = createFunctionsClient({ baseUrl: 'http://api', edgeToken: 't', fetch: f.fetch });
    const routes = await Promise.all(
      ['sip:1@x', 'sip:2@x', 'sip:3@x'].map((t, i) => client.routeCall('sip:a@x', t, `c${i}`)),
    );
    expect(routes).toEqual([routeFor('sip:1@x'), routeFor('sip:2@x'), routeFor('sip:3@x')]);
    expect(f.sent).toHaveLength(1);
    expect((f.sent[0]?.body as { calls?: unknown[] } | undefined)?.calls).toHaveLength(3);
  });

  it('asks one by one when the function refuses the batch (400), so one bad INVITE fails alone', async () => {
    const f = fakeFetch((b) =>
      'calls' in b
        ? { status: 400, json: { error: 'bad_request', message: 'calls.1.target: required' } }
        : b.target === 'sip:bad@x'
          ? { status: 400, json: { error: 'bad_request', message: 'target' } }
          : { status: 200, json: routeFor(b.target) },
    );
    const client = createFunctionsClient({ baseUrl: 'http://api', edgeToken: 't', fetch: f.fetch });
    const [good, bad] = await Promise.allSettled([
      client.routeCall('sip:a@x', 'sip:good@x', 'c1'),
      client.routeCall('sip:a@x', 'sip:bad@x', 'c2'),
    ]);
    expect(good).toEqual({ status: 'fulfilled', value: routeFor('sip:good@x') });
    expect(bad.status).toBe('rejected');
    expect(f.sent).toHaveLength(3);
  });
});
