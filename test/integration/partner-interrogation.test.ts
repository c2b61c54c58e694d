/**
 * Interrogation of a partner (TS 23.379 steps 3–4): the affiliated members of its regrouped group,
 * only the user fields the agreement shares, only for a temporary group of the asking system.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeAffiliationPidf } from '#core/affiliation-pidf.ts';
import { interrogationPath } from '#core/partner-protocol.ts';
import { signRequest } from '#core/request-signing.ts';
import type { LocalSystems } from '#local/systems.ts';
import { call, demoConfig, login, startDemo } from '../support/local-systems.ts';

const KEY = 'zneKPcU1uWCLtxoib_vIR_FXCb-Mi7taHz73uENidI0'; // demo agreement key

describe('Feature: partner interrogation', () => {
  let local: LocalSystems;
  let partner: string;

  const ask = (body: unknown, opts: { signed?: boolean } = {}) => {
    const raw = JSON.stringify(body);
    const headers =
      opts.signed === false
        ? {}
        : signRequest({
            method: 'POST',
            path: interrogationPath(),
            sender: 'primary.example',
            target: 'partner.example',
            keyId: 'primary-partner-2026',
            key: KEY,
            body: raw,
            now: Date.now(),
          });
    return call(partner, 'POST', interrogationPath(), { raw, headers });
  };

  beforeAll(async () => {
    const config = await demoConfig();
    local = await startDemo({ config });
    partner = local.get('partner.example').url;
    const primary = local.get('primary.example').url;
    const edge = { authorization: `Bearer ${config.systems[1]?.edgeToken}` };
    // carol (ambulance-1, required) and dave (ambulance-2) affiliate to their groups.
    for (const [user, group] of [
      ['carol', 'ambulance-1'],
      ['dave', 'ambulance-2'],
    ] as const) {
      const id = `sip:${user}@partner.example`;
      const pidf = serializeAffiliationPidf({
        entity: id,
        clientId: `${user}-phone`,
        affiliations: [{ groupId: `sip:${group}@partner.example`, expiresAt: Date.now() + 600_000 }],
      });
      const res = await call(partner, 'POST', '/edge/affiliations', {
        raw: pidf,
        headers: { ...edge, 'content-type': 'application/pidf+xml', 'x-mcptt-asserted-identity': id },
      });
      expect(res.status).toBe(200);
    }
    const dispatcher = await login(primary, 'dispatcher', 'dispatcher-pass');
    const created = await call(primary, 'POST', '/regroups', {
      token: dispatcher,
      body: { constituents: ['fire-1', 'ambulance-1@partner.example'], name: 'incident-7' },
    });
    expect(created.status).toBe(201);
  }, 60_000);
  afterAll(async () => local?.stop());

  it('answers the affiliated members of the regrouped group with only the shared fields', async () => {
    const res = await ask({
      callId: 'c-1',
      tgi: 'sip:incident-7@primary.example',
      groups: ['sip:ambulance-1@partner.example'],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      tgi: 'sip:incident-7@primary.example',
      groups: [
        {
          groupId: 'sip:ambulance-1@partner.example',
          members: [
            {
              mcpttId: 'sip:carol@partner.example',
              displayName: 'Carol',
              organization: 'Ambulance service',
              required: true,
            },
          ],
        },
      ],
    });
    expect(JSON.stringify(res.body)).not.toMatch(/roles|credentials|dave/);
  });

  it('403 for a group that is not regrouped into that temporary group', async () => {
    const res = await ask({
      callId: 'c-2',
      tgi: 'sip:incident-7@primary.example',
      groups: ['sip:ambulance-2@partner.example'],
    });
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(
      /ambulance-2@partner.example is not regrouped into sip:incident-7@primary.example/,
    );
    const other = await ask({
      callId: 'c-3',
      tgi: 'sip:other@primary.example',
      groups: ['sip:ambulance-1@partner.example'],
    });
    expect(other.status).toBe(403);
  });

  it('403 for a temporary group of another system; 401 unsigned; 400 malformed', async () => {
    const foreign = await ask({
      callId: 'c-4',
      tgi: 'sip:incident-7@partner.example',
      groups: ['ambulance-1'],
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body.message).toMatch(/its own temporary groups/);
    expect(
      (
        await ask(
          { callId: 'c-5', tgi: 'sip:incident-7@primary.example', groups: ['ambulance-1'] },
          { signed: false },
        )
      ).status,
    ).toBe(401);
    const malformed = await ask({ callId: 'c-6', tgi: 'sip:incident-7@primary.example', groups: [] });
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/groups/);
  });
});
