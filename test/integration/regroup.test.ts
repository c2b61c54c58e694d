/**
 * Group regroup across two running local systems (primary.example, partner.example from the
 * demo configuration), over their HTTP APIs.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystems } from '#local/systems.ts';
import { call, demoConfig, enc, login, REFUSED_PORT, startDemo } from '../support/local-systems.ts';

type Body = Record<string, unknown>;

describe('Feature: group regroup across systems', () => {
  let local: LocalSystems;
  let primary: string;
  let partner: string;
  let dispatcher: string;
  let alice: string;
  let partnerAdmin: string;

  beforeAll(async () => {
    local = await startDemo();
    primary = local.get('primary.example').url;
    partner = local.get('partner.example').url;
    [dispatcher, alice, partnerAdmin] = await Promise.all([
      login(primary, 'dispatcher', 'dispatcher-pass'),
      login(primary, 'alice', 'alice-pass'),
      login(partner, 'admin', 'admin-pass'),
    ]);
  }, 60_000);
  afterAll(async () => local?.stop());

  const regroupsOn = async (base: string, token: string) =>
    (await call<{ temporaryGroups: Body[] }>(base, 'GET', '/regroups', { token })).body.temporaryGroups;
  const markerOf = async (base: string, token: string, group: string) =>
    (await call(base, 'GET', `/groups/${enc(group)}`, { token })).body.regroupedInto as Body | undefined;

  /** Nothing of any regroup is left on either system. */
  const expectNothingStored = async () => {
    expect(await regroupsOn(primary, dispatcher)).toEqual([]);
    expect(await markerOf(primary, dispatcher, 'fire-1')).toBeUndefined();
    expect(await markerOf(primary, dispatcher, 'police-1')).toBeUndefined();
    expect(await markerOf(partner, partnerAdmin, 'ambulance-1')).toBeUndefined();
    expect(await markerOf(partner, partnerAdmin, 'ambulance-2')).toBeUndefined();
  };

  describe('Scenario: a dispatcher regroups a primary group and a partner group, then cancels', () => {
    it('creates the temporary group on the primary and the regrouped marker on the partner', async () => {
      // Act
      const created = await call(primary, 'POST', '/regroups', {
        token: dispatcher,
        body: { constituents: ['fire-1', 'sip:ambulance-1@partner.example'], name: 'major-incident-1' },
      });

      // Assess
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const tgi = 'sip:major-incident-1@primary.example';
      expect(created.body).toMatchObject({
        tgi,
        status: 'active',
        creator: 'sip:dispatcher@primary.example',
        constituents: [
          { groupId: 'sip:fire-1@primary.example', system: 'primary.example' },
          { groupId: 'sip:ambulance-1@partner.example', system: 'partner.example' },
        ],
      });
      // One merged set of policies: highest priority (fire-1: 7, ambulance-1: 6), longest ack timer.
      expect(created.body.policy).toMatchObject({ priority: 7, acknowledgementTimeoutMs: 4000 });
      expect(created.headers.get('location')).toBe(`/regroups/${enc(tgi)}`);

      const read = await call(primary, 'GET', `/regroups/${enc(tgi)}`, { token: dispatcher });
      expect(read.status).toBe(200);
      expect(read.body.status).toBe('active');
      expect(await markerOf(primary, dispatcher, 'fire-1')).toMatchObject({ tgi, status: 'active' });
      expect(await markerOf(partner, partnerAdmin, 'ambulance-1')).toMatchObject({
        tgi,
        primary: 'primary.example',
        status: 'active',
      });
      expect(await markerOf(partner, partnerAdmin, 'ambulance-2')).toBeUndefined();
    });

    it('refuses a second regroup of an already regrouped group (409)', async () => {
      const res = await call(primary, 'POST', '/regroups', {
        token: dispatcher,
        body: { constituents: ['fire-1', 'police-1'] },
      });
      expect(res.status).toBe(409);
      expect(res.body.message).toMatch(
        /fire-1@primary.example is already regrouped into sip:major-incident-1/,
      );
    });

    it('cancels it everywhere', async () => {
      const tgi = 'sip:major-incident-1@primary.example';
      const res = await call(primary, 'DELETE', `/regroups/${enc(tgi)}`, { token: dispatcher });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toEqual({ tgi, cancelled: true });
      expect((await call(primary, 'GET', `/regroups/${enc(tgi)}`, { token: dispatcher })).status).toBe(404);
      await expectNothingStored();
      const again = await call(primary, 'DELETE', `/regroups/${enc(tgi)}`, { token: dispatcher });
      expect(again.status).toBe(404);
    });
  });

  describe('Scenario: refusals leave nothing on either system', () => {
    it('403 when the caller may not regroup', async () => {
      const res = await call(primary, 'POST', '/regroups', {
        token: alice,
        body: { constituents: ['fire-1', 'ambulance-1@partner.example'] },
      });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden' });
      expect(String(res.body.message)).toMatch(/alice@primary.example/);
      await expectNothingStored();
    });

    it('401 without a token', async () => {
      const res = await call(primary, 'POST', '/regroups', {
        body: { constituents: ['fire-1', 'police-1'] },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    it('404 for an unknown constituent group of the primary', async () => {
      const res = await call(primary, 'POST', '/regroups', {
        token: dispatcher,
        body: { constituents: ['fire-9', 'ambulance-1@partner.example'] },
      });
      expect(res.status).toBe(404);
      expect(res.body.message).toMatch(/no group sip:fire-9@primary.example/);
      await expectNothingStored();
    });

    it('404 for a system without an agreement', async () => {
      const res = await call(primary, 'POST', '/regroups', {
        token: dispatcher,
        body: { constituents: ['fire-1', 'coast-1@coastguard.example'] },
      });
      expect(res.status).toBe(404);
      expect(res.body.message).toMatch(/coastguard.example/);
      await expectNothingStored();
    });

    it('the partner refuses a group its agreement does not allow: reason given, nothing stored', async () => {
      const res = await call(primary, 'POST', '/regroups', {
        token: dispatcher,
        body: { constituents: ['fire-1', 'police-1', 'ambulance-2@partner.example'] },
      });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ error: 'partner_refused', partner: 'partner.example' });
      expect(String(res.body.reason)).toMatch(
        /agreement with primary.example does not allow regrouping sip:ambulance-2@partner.example/,
      );
      await expectNothingStored();
    });

    it('the partner refuses an unknown group of its own: reason given, nothing stored', async () => {
      const res = await call(primary, 'POST', '/regroups', {
        token: dispatcher,
        body: { constituents: ['fire-1', 'ambulance-9@partner.example'] },
      });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ error: 'partner_refused', partner: 'partner.example' });
      expect(String(res.body.reason)).toMatch(/no group sip:ambulance-9@partner.example/);
      await expectNothingStored();
    });

    it('400 for malformed JSON and schema violations, with a message', async () => {
      const malformed = await call(primary, 'POST', '/regroups', {
        token: dispatcher,
        raw: '{"constituents": [',
      });
      expect(malformed.status).toBe(400);
      expect(malformed.body.message).toMatch(/^malformed JSON/);

      const cases: [unknown, RegExp][] = [
        [{ constituents: 'fire-1' }, /constituents: /],
        [{ constituents: ['fire-1'] }, /at least 2 constituent groups/],
        [{ constituents: ['fire-1', 'police-1'], colour: 'red' }, /colour/],
        [{ constituents: ['fire-1', 'police-1'], policy: { priority: 999 } }, /policy.priority/],
        [{ constituents: ['fire-1', 'fire-1'] }, /duplicate|more than once/i],
        [{ constituents: ['fire-1', 'sips:police-1@primary.example'] }, /sip/],
        [{ constituents: ['fire-1', 'police-1'], name: 'no spaces allowed' }, /name/],
      ];
      for (const [body, message] of cases) {
        const res = await call(primary, 'POST', '/regroups', { token: dispatcher, body });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(String(res.body.message), JSON.stringify(body)).toMatch(message);
      }
      const wrongType = await call(primary, 'POST', '/regroups', {
        token: dispatcher,
        raw: 'constituents=fire-1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(wrongType.status).toBe(400);
      expect(wrongType.body.message).toMatch(/content-type must be application\/json/);
      await expectNothingStored();
    });

    it('two dispatchers regrouping the same group at once: one wins, the other gets 409', async () => {
      const [a, b] = await Promise.all([
        call(primary, 'POST', '/regroups', {
          token: dispatcher,
          body: { constituents: ['fire-1', 'police-1'] },
        }),
        call(primary, 'POST', '/regroups', {
          token: dispatcher,
          body: { constituents: ['fire-1', 'ambulance-1@partner.example'] },
        }),
      ]);
      expect([a.status, b.status].sort()).toEqual([201, 409]);
      const winner = (a.status === 201 ? a : b).body.tgi as string;
      expect(await regroupsOn(primary, dispatcher)).toHaveLength(1);
      expect((await call(primary, 'DELETE', `/regroups/${enc(winner)}`, { token: dispatcher })).status).toBe(
        200,
      );
      await expectNothingStored();
    });
  });
});

describe('Feature: regroup with a partner that cannot answer', () => {
  let local: LocalSystems;
  let silent: Server;
  let primary: string;
  let dispatcher: string;

  beforeAll(async () => {
    // A partner that accepts connections and never answers.
    silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as { port: number }).port;
    const key = 'A'.repeat(43);
    const config = await demoConfig((json) => {
      const p = json.systems[0];
      if (!p) throw new Error('no primary');
      p.partnerTimeoutMs = 300;
      p.agreements.push(
        {
          partner: 'down.example',
          apiUrl: `http://127.0.0.1:${REFUSED_PORT}`,
          sipUri: 'sip:127.0.0.1:5999',
          keyId: 'k1',
          key,
          sharedUserFields: [],
          regroupableGroups: [],
        },
        {
          partner: 'slow.example',
          apiUrl: `http://127.0.0.1:${silentPort}`,
          sipUri: 'sip:127.0.0.1:5998',
          keyId: 'k2',
          key,
          sharedUserFields: [],
          regroupableGroups: [],
        },
      );
    });
    local = await startDemo({ config });
    primary = local.get('primary.example').url;
    dispatcher = await login(primary, 'dispatcher', 'dispatcher-pass');
  }, 60_000);
  afterAll(async () => {
    silent?.closeAllConnections();
    silent?.close();
    await local?.stop();
  });

  const nothingStored = async () => {
    expect((await call(primary, 'GET', '/regroups', { token: dispatcher })).body.temporaryGroups).toEqual([]);
    for (const g of ['fire-1', 'police-1']) {
      expect(
        (await call(primary, 'GET', `/groups/${g}`, { token: dispatcher })).body.regroupedInto,
      ).toBeUndefined();
    }
    const partner = local.get('partner.example');
    const partnerAdmin = await login(partner.url, 'admin', 'admin-pass');
    const marker = await call(partner.url, 'GET', '/groups/ambulance-1', { token: partnerAdmin });
    expect(marker.body.regroupedInto).toBeUndefined();
  };

  it('partner unreachable → 502 naming the partner, nothing stored on any system', async () => {
    const res = await call(primary, 'POST', '/regroups', {
      token: dispatcher,
      body: { constituents: ['fire-1', 'ambulance-1@partner.example', 'x-1@down.example'] },
    });
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ error: 'partner_unavailable', partner: 'down.example' });
    expect(String(res.body.reason)).toMatch(/unreachable.*ECONNREFUSED/);
    await nothingStored();
  });

  it('partner silent → 504 after the partner timeout, nothing stored on any system', async () => {
    const started = Date.now();
    const res = await call(primary, 'POST', '/regroups', {
      token: dispatcher,
      body: { constituents: ['police-1', 'ambulance-1@partner.example', 'y-1@slow.example'] },
    });
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ error: 'partner_timeout', partner: 'slow.example' });
    expect(String(res.body.reason)).toMatch(/no answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    await nothingStored();
  });
});

describe('Feature: data survives a restart of the local systems', () => {
  it('keeps a regroup, its markers and API-created users across a restart on the same data folder', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mcptt-restart-'));
    try {
      const config = await demoConfig();
      let local = await startDemo({ config, dataDir });
      let primary = local.get('primary.example').url;
      const admin = await login(primary, 'admin', 'admin-pass');
      const dispatcher = await login(primary, 'dispatcher', 'dispatcher-pass');
      const user = await call(primary, 'POST', '/users', {
        token: admin,
        body: { mcpttId: 'erin', displayName: 'Erin', password: 'erin-pass-1' },
      });
      expect(user.status).toBe(201);
      const created = await call(primary, 'POST', '/regroups', {
        token: dispatcher,
        body: { constituents: ['fire-1', 'ambulance-1@partner.example'], name: 'kept' },
      });
      expect(created.status).toBe(201);
      await local.stop();

      local = await startDemo({ config, dataDir });
      try {
        primary = local.get('primary.example').url;
        const partner = local.get('partner.example').url;
        const tg = await call(primary, 'GET', `/regroups/${enc('sip:kept@primary.example')}`, {
          token: dispatcher,
        });
        expect(tg.status).toBe(200);
        expect(tg.body.status).toBe('active');
        await login(primary, 'erin', 'erin-pass-1');
        const partnerAdmin = await login(partner, 'admin', 'admin-pass');
        const marker = await call(partner, 'GET', '/groups/ambulance-1', { token: partnerAdmin });
        expect(marker.body.regroupedInto).toMatchObject({
          tgi: 'sip:kept@primary.example',
          status: 'active',
        });
      } finally {
        await local.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
