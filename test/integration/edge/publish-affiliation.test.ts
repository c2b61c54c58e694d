/**
 * Affiliation by SIP PUBLISH (TS 24.379 §9.2.1.2, RFC 3903) through a running primary edge: the
 * PIDF body reaches the affiliation function, and the refusals come back as SIP statuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystems } from '#local/systems.ts';
import { call, demoConfig, startDemo } from '../../support/local-systems.ts';
import { SipUa } from '../../support/sip-ua.ts';

describe('Feature: affiliation through the SIP edge (PUBLISH, Event: presence)', () => {
  let local: LocalSystems;
  let api: string;
  let edgeToken: string;
  let alice: SipUa;

  beforeAll(async () => {
    const config = await demoConfig();
    edgeToken = config.systems[0]?.edgeToken ?? '';
    local = await startDemo({ config });
    api = local.get('primary.example').url;
    alice = await SipUa.start({
      user: 'alice',
      password: 'alice-pass',
      domain: 'primary.example',
      edge: local.get('primary.example').edge,
    });
  }, 60_000);
  afterAll(async () => {
    await alice?.close();
    await local?.stop();
  });

  const affiliations = async (user: string) =>
    (
      await call<{ affiliations: { groupId: string }[] }>(api, 'GET', `/edge/affiliations/${user}`, {
        headers: { authorization: `Bearer ${edgeToken}` },
      })
    ).body.affiliations.map((a) => a.groupId);

  it('affiliates alice to fire-1: 401, then 200 with SIP-ETag and Expires', async () => {
    const { response, challenge } = await alice.request(
      alice.publish({ groups: ['sip:fire-1@primary.example'] }),
    );
    expect(challenge?.status).toBe(401);
    expect(response.status).toBe(200);
    expect(response.headers.get('SIP-ETag')).toMatch(/^[0-9a-f]{16}$/);
    expect(response.headers.get('Expires')).toBe('3600');
    expect(await affiliations('alice')).toEqual(['sip:fire-1@primary.example']);
  });

  it('a refresh (no body) carries SIP-If-Match with the entity-tag it got (RFC 3903 §4.1)', async () => {
    const first = await alice.request(alice.publish({ groups: ['sip:fire-1@primary.example'] }));
    const etag = first.response.headers.get('SIP-ETag') ?? '';
    const refresh = (ifMatch?: string) => {
      const req = alice.publish({ body: '' });
      req.headers.remove('Content-Type');
      if (ifMatch !== undefined) req.headers.add('SIP-If-Match', ifMatch);
      return req;
    };
    expect((await alice.request(refresh())).response.status).toBe(400);
    // Refreshed (200, new entity-tag), or 412 from an ESC that keeps no state: the client then
    // publishes its full state again (RFC 3903 §4.1). Both are right; 200 is what the edge does now.
    const { response } = await alice.request(refresh(etag));
    expect([200, 412]).toContain(response.status);
    if (response.status === 200) expect(response.headers.get('SIP-ETag')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('a refresh for an entity-tag never issued gets 412 (RFC 3903 §6 step 4)', async () => {
    const req = alice.publish({ body: '' });
    req.headers.remove('Content-Type');
    req.headers.add('SIP-If-Match', 'never-issued');
    const { response } = await alice.request(req);
    expect(response.status).toBe(412);
  });

  it('a PIDF for someone else is forbidden (403) and changes nothing', async () => {
    const { response } = await alice.request(
      alice.publish({ entity: 'sip:bob@primary.example', groups: ['sip:police-1@primary.example'] }),
    );
    expect(response.status).toBe(403);
    expect(response.headers.get('Warning')).toMatch(/^399 primary\.example "/);
    expect(await affiliations('bob')).toEqual([]);
    expect(await affiliations('alice')).toEqual(['sip:fire-1@primary.example']);
  });

  it('another event package gets 489 Bad Event with Allow-Events (RFC 3903 §6 step 2)', async () => {
    const { response, challenge } = await alice.request(
      alice.publish({ event: 'dialog', groups: ['sip:fire-1@primary.example'] }),
    );
    expect(challenge).toBeUndefined();
    expect(response.status).toBe(489);
    expect(response.headers.get('Allow-Events')).toBe('presence');
  });

  it('a body that is not PIDF gets 415 with Accept', async () => {
    // text/plain passes the edge's general body check; the presence role then wants PIDF.
    const plain = await alice.request(alice.publish({ body: 'fire-1 please', contentType: 'text/plain' }));
    expect(plain.response.status).toBe(415);
    expect(plain.response.headers.get('Accept')).toBe('application/pidf+xml');
    // A type the edge does not take at all is refused before authentication (§8.2.3).
    const json = await alice.request(alice.publish({ body: '{}', contentType: 'application/json' }));
    expect(json.challenge).toBeUndefined();
    expect(json.response.status).toBe(415);
    expect(json.response.headers.get('Accept')).toMatch(/application\/pidf\+xml/);
  });

  it('a malformed PIDF gets 400 with a Warning saying why', async () => {
    const { response } = await alice.request(alice.publish({ body: '<presence><unclosed></presence>' }));
    expect(response.status).toBe(400);
    expect(response.headers.get('Warning')).toMatch(/^399 primary\.example ".*malformed affiliation PIDF/);
    expect(await affiliations('alice')).toEqual(['sip:fire-1@primary.example']);
  });

  it('de-affiliates with an empty set', async () => {
    const { response } = await alice.request(alice.publish({ groups: [] }));
    expect(response.status).toBe(200);
    expect(await affiliations('alice')).toEqual([]);
  });
});
