/**
 * The partner API accepts only requests signed with the agreement's key, fresh and never seen
 * before: forged, expired or replayed requests get 401 and change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '#core/request-signing.ts';
import type { LocalSystems } from '#local/systems.ts';
import { call, login, startDemo } from '../support/local-systems.ts';

const KEY = 'zneKPcU1uWCLtxoib_vIR_FXCb-Mi7taHz73uENidI0'; // demo agreement key
const PATH = '/partner/v1/regroups';

describe('Feature: partner API authentication', () => {
  let local: LocalSystems;
  let partner: string;
  let partnerAdmin: string;

  beforeAll(async () => {
    local = await startDemo();
    partner = local.get('partner.example').url;
    partnerAdmin = await login(partner, 'admin', 'admin-pass');
  }, 60_000);
  afterAll(async () => local?.stop());

  const accept = (tgi: string) => ({
    tgi,
    displayName: 'Test',
    creator: 'sip:dispatcher@primary.example',
    groups: ['sip:ambulance-1@partner.example'],
  });

  const send = (headers: Record<string, string>, body: string, path = PATH, method = 'POST') =>
    call(partner, method, path, { raw: body, headers: { ...headers, 'content-type': 'application/json' } });

  const signed = (
    body: string,
    overrides: { key?: string; now?: number; keyId?: string; sender?: string } = {},
  ) =>
    signRequest({
      method: 'POST',
      path: PATH,
      sender: overrides.sender ?? 'primary.example',
      target: 'partner.example',
      keyId: overrides.keyId ?? 'primary-partner-2026',
      key: overrides.key ?? KEY,
      body,
      now: overrides.now ?? Date.now(),
    });

  /** A correctly signed release of a TGI's claims. */
  const release = (tgi: string) => {
    const path = `${PATH}/${encodeURIComponent(tgi)}`;
    const headers = signRequest({
      method: 'DELETE',
      path,
      sender: 'primary.example',
      target: 'partner.example',
      keyId: 'primary-partner-2026',
      key: KEY,
      body: '',
      now: Date.now(),
    });
    return call(partner, 'DELETE', path, { headers });
  };

  const marker = async () =>
    (await call(partner, 'GET', '/groups/ambulance-1', { token: partnerAdmin })).body.regroupedInto;

  it('accepts a correctly signed request, and releases it', async () => {
    const body = JSON.stringify(accept('sip:auth-ok@primary.example'));
    const res = await send(signed(body), body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await marker()).toMatchObject({ tgi: 'sip:auth-ok@primary.example', status: 'pending' });
    const released = await release('sip:auth-ok@primary.example');
    expect(released.status, JSON.stringify(released.body)).toBe(200);
    expect(await marker()).toBeUndefined();
  });

  const rejected: [string, () => { headers: Record<string, string>; body: string }, RegExp][] = [
    [
      'forged (wrong key)',
      () => {
        const body = JSON.stringify(accept('sip:forged@primary.example'));
        return { headers: signed(body, { key: 'B'.repeat(43) }), body };
      },
      /signature/i,
    ],
    [
      'tampered body',
      () => {
        const body = JSON.stringify(accept('sip:tampered@primary.example'));
        return { headers: signed(body), body: body.replace('Test', 'Tost') };
      },
      /signature/i,
    ],
    [
      'expired (10 minutes old)',
      () => {
        const body = JSON.stringify(accept('sip:expired@primary.example'));
        return { headers: signed(body, { now: Date.now() - 600_000 }), body };
      },
      /expired|timestamp/i,
    ],
    [
      'unknown key id',
      () => {
        const body = JSON.stringify(accept('sip:keyid@primary.example'));
        return { headers: signed(body, { keyId: 'other-key' }), body };
      },
      /key/i,
    ],
    [
      'unsigned',
      () => ({ headers: {}, body: JSON.stringify(accept('sip:unsigned@primary.example')) }),
      /unsigned|missing/i,
    ],
    [
      'sender without agreement',
      () => {
        const body = JSON.stringify(accept('sip:stranger@stranger.example'));
        return { headers: signed(body, { sender: 'stranger.example' }), body };
      },
      /no agreement with stranger.example/,
    ],
  ];

  for (const [name, make, message] of rejected) {
    it(`401 and nothing changes: ${name}`, async () => {
      const { headers, body } = make();
      const res = await send(headers, body);
      expect(res.status, JSON.stringify(res.body)).toBe(401);
      expect(res.body.error).toBe('unauthenticated');
      expect(String(res.body.message)).toMatch(message);
      expect(await marker()).toBeUndefined();
    });
  }

  it('401 for a replayed request, and the replay changes nothing', async () => {
    const body = JSON.stringify(accept('sip:replay@primary.example'));
    const headers = signed(body);
    const first = await send(headers, body);
    expect(first.status).toBe(200);
    // The legitimate claim is released by a fresh request; then the old one is replayed.
    expect((await release('sip:replay@primary.example')).status).toBe(200);
    const replay = await send(headers, body);
    expect(replay.status).toBe(401);
    expect(String(replay.body.message)).toMatch(/replay/);
    expect(await marker()).toBeUndefined();
  });

  it('a partner may only regroup into its own temporary groups (403)', async () => {
    const body = JSON.stringify(accept('sip:theirs@partner.example'));
    const res = await send(signed(body), body);
    expect(res.status).toBe(403);
    expect(await marker()).toBeUndefined();
  });
});
