/**
 * REGISTER over real SIP (UDP, and TCP once) to a running primary edge: digest with SHA-256 and
 * MD5 (RFC 3261 §22, RFC 8760), refusals, Min-Expires, removal of bindings, and the bindings as
 * the registration function reports them.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystems } from '#local/systems.ts';
import { parseDigestChallengeParams as parseChallenge } from '../../../sip/auth/digest-client.ts';
import { parseNameAddrList, toTag } from '../../../sip/message/accessors.ts';
import { call, demoConfig, startDemo } from '../../support/local-systems.ts';
import { SipUa } from '../../support/sip-ua.ts';

type Bindings = { bindings: { contact: string; expiresAt: number }[] };

describe('Feature: registration through the SIP edge', () => {
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

  /** The bindings the registration function holds for a user (GET /edge/registrations/{id}). */
  const bindings = async (user: string) =>
    (
      await call<Bindings>(api, 'GET', `/edge/registrations/${user}`, {
        headers: { authorization: `Bearer ${edgeToken}` },
      })
    ).body.bindings.map((b) => b.contact);

  /** Contact values of a 200 to REGISTER: URI → expires. */
  const contactsOf = (values: string[]) =>
    new Map(
      values
        .flatMap((v) => parseNameAddrList(v, 'Contact'))
        .map((n) => [n.uri, Number(n.params.get('expires'))]),
    );

  it('challenges with SHA-256 first, then MD5 (RFC 8760 §2.4), and registers with SHA-256', async () => {
    const { response, challenge } = await alice.request(alice.register({ expires: 600 }), {
      algorithm: 'SHA-256',
    });
    const offers = challenge?.headers.getAll('WWW-Authenticate') ?? [];
    expect(challenge?.status).toBe(401);
    expect(offers.map((o) => parseChallenge(o).get('algorithm'))).toEqual(['SHA-256', 'MD5']);
    for (const o of offers) {
      expect(parseChallenge(o).get('realm')).toBe('primary.example');
      expect(parseChallenge(o).get('qop')).toBe('auth');
    }

    expect(response.status).toBe(200);
    const expires = contactsOf(response.headers.getAll('Contact')).get(alice.contact);
    expect(expires).toBeGreaterThanOrEqual(599);
    expect(expires).toBeLessThanOrEqual(600);
    expect(response.headers.get('Date')).toMatch(/GMT$/);
    expect(await bindings('alice')).toEqual([alice.contact]);
  });

  it('registers with MD5 too', async () => {
    const contact = `sip:alice@127.0.0.1:${alice.port};md5`;
    const { response, request } = await alice.request(alice.register({ contact, expires: 300 }), {
      algorithm: 'MD5',
    });
    expect(request.headers.get('Authorization')).toMatch(/algorithm=MD5/);
    expect(response.status).toBe(200);
    expect(contactsOf(response.headers.getAll('Contact')).get(contact)).toBeGreaterThan(290);
    expect(await bindings('alice')).toContain(contact);
  });

  it('a wrong password gets a new challenge (401), not 403', async () => {
    const req = alice.register();
    const challenge = (await alice.request(req, { auth: false })).response;
    const wrong = alice.authorize(req, challenge, { password: 'not-alice-pass' });
    const { response } = await alice.request(wrong, { auth: false });
    expect(response.status).toBe(401);
    expect(response.headers.get('WWW-Authenticate')).toMatch(/^Digest /);
    expect(response.headers.get('WWW-Authenticate')).not.toMatch(/stale/);
  });

  it('a forged nonce gets a new challenge; an expired one gets stale=true (RFC 7616 §3.3)', async () => {
    const req = alice.register();
    const challenge = (await alice.request(req, { auth: false })).response;
    const forged = alice.authorize(req, challenge, { nonce: `${Date.now().toString(36)}.forged.nonce` });
    const refused = (await alice.request(forged, { auth: false })).response;
    expect(refused.status).toBe(401);
    expect(refused.headers.get('WWW-Authenticate')).not.toMatch(/stale/);

    // A nonce the edge did issue, 10 minutes ago (lifetime 5 min). Nonces are
    // `<ts36>.<HMAC-SHA256(secret, "ts:realm") base64url, 32 chars>.<random>` (sip/auth/digest.ts),
    // and a local system's secret is "digest-nonce:<edge token>" (local/system.ts).
    const ts = (Date.now() - 600_000).toString(36);
    const sig = createHmac('sha256', Buffer.from(`digest-nonce:${edgeToken}`))
      .update(`${ts}:primary.example`)
      .digest('base64url')
      .slice(0, 32);
    const old = alice.authorize(req, challenge, { nonce: `${ts}.${sig}.AAAAAAAA` });
    const stale = (await alice.request(old, { auth: false })).response;
    expect(stale.status).toBe(401);
    const offers = stale.headers.getAll('WWW-Authenticate');
    expect(offers).toHaveLength(2);
    for (const o of offers) expect(parseChallenge(o).get('stale')).toBe('true');
  });

  it('a replayed nonce-count is refused (401)', async () => {
    const { request, response } = await alice.request(alice.register());
    expect(response.status).toBe(200);
    const replay = alice.register();
    replay.headers.set('Authorization', request.headers.get('Authorization') ?? '');
    expect((await alice.request(replay, { auth: false })).response.status).toBe(401);
  });

  it('credentials without qop, although qop=auth was offered, are refused: they could be replayed', async () => {
    const req = alice.register();
    const challenge = (await alice.request(req, { auth: false })).response;
    const first = await alice.request(alice.authorize(req, challenge, { noQop: true }), { auth: false });
    // Captured and replayed on another request (new Call-ID, CSeq, branch) within the nonce lifetime:
    const replay = alice.register();
    replay.headers.set('Authorization', first.request.headers.get('Authorization') ?? '');
    const replayed = await alice.request(replay, { auth: false });
    expect([first.response.status, replayed.response.status]).toEqual([401, 401]);
  });

  it('REGISTER without Contact lists the current bindings (§10.2.3)', async () => {
    const contact = `sip:alice@127.0.0.1:${alice.port};query`;
    expect((await alice.request(alice.register({ contact, expires: 120 }))).response.status).toBe(200);
    const query = alice.register();
    query.headers.remove('Contact');
    const { response } = await alice.request(query);
    expect(response.status).toBe(200);
    expect(contactsOf(response.headers.getAll('Contact')).has(contact)).toBe(true);
  });

  it('the To tag of a 200 is random (§19.3: at least 32 random bits), not the clock', async () => {
    const before = Date.now();
    const tags = [];
    for (let i = 0; i < 2; i++) tags.push(toTag((await alice.request(alice.register())).response) ?? '');
    const after = Date.now();
    const clockLike = tags.filter((t) => {
      const n = Number.parseInt(t, 36);
      return n >= before && n <= after;
    });
    expect(clockLike).toEqual([]);
  });

  it('Expires 30 gets 423 with Min-Expires 60 (§10.3 step 7)', async () => {
    const { response } = await alice.request(alice.register({ expires: 30 }));
    expect(response.status).toBe(423);
    expect(response.reason).toBe('Interval Too Brief');
    expect(response.headers.get('Min-Expires')).toBe('60');
  });

  it('unregisters one contact with Expires 0, and all with "*"', async () => {
    const one = `sip:alice@127.0.0.1:${alice.port};one`;
    const two = `sip:alice@127.0.0.1:${alice.port};two`;
    for (const contact of [one, two])
      expect((await alice.request(alice.register({ contact, expires: 120 }))).response.status).toBe(200);
    expect(await bindings('alice')).toEqual(expect.arrayContaining([one, two]));

    const removed = await alice.request(alice.register({ contact: one, expires: 0 }));
    expect(removed.response.status).toBe(200);
    expect(contactsOf(removed.response.headers.getAll('Contact')).has(one)).toBe(false);
    expect(await bindings('alice')).not.toContain(one);
    expect(await bindings('alice')).toContain(two);

    const badStar = await alice.request(alice.register({ contact: '*', expires: 60 }));
    expect(badStar.response.status).toBe(400);

    const all = await alice.request(alice.register({ contact: '*', expires: 0 }));
    expect(all.response.status).toBe(200);
    expect(await bindings('alice')).toEqual([]);
  });

  it("registering someone else's address-of-record is forbidden (403)", async () => {
    const { response } = await alice.request(alice.register({ aor: 'sip:bob@primary.example' }));
    expect(response.status).toBe(403);
    expect(response.headers.get('Warning')).toMatch(/may only register sip:alice@primary.example/);
    expect(await bindings('bob')).toEqual([]);
  });

  it('registers over TCP', async () => {
    const bob = await SipUa.start({
      user: 'bob',
      password: 'bob-pass',
      domain: 'primary.example',
      edge: local.get('primary.example').edge,
      transport: 'tcp',
    });
    try {
      const { response, request } = await bob.request(bob.register({ expires: 120 }));
      expect(request.headers.get('Via')).toMatch(/^SIP\/2\.0\/TCP /);
      expect(response.status).toBe(200);
      expect(bob.contact).toMatch(/;transport=tcp$/);
      expect(await bindings('bob')).toEqual([bob.contact]);
      expect(local.get('primary.example').edge.transport.connectionCount()).toBeGreaterThanOrEqual(1);
      expect((await bob.request(bob.register({ contact: '*', expires: 0 }))).response.status).toBe(200);
    } finally {
      await bob.close();
    }
  });
});
