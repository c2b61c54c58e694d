/** Workflow step ResolveTemporaryGroup against a running local system's store. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeAffiliationPidf } from '#core/affiliation-pidf.ts';
import { DomainError } from '#core/errors.ts';
import { resolveTemporaryGroup } from '#functions/workflow/resolve-temporary-group.ts';
import type { LocalSystems } from '#local/systems.ts';
import { call, demoConfig, login, startDemo } from '../support/local-systems.ts';

describe('Function: resolveTemporaryGroup', () => {
  let local: LocalSystems;

  beforeAll(async () => {
    const config = await demoConfig();
    local = await startDemo({ config });
    const primary = local.get('primary.example').url;
    const edge = { authorization: `Bearer ${config.systems[0]?.edgeToken}` };
    // alice (fire-1, required) affiliates; dispatcher (fire-1, police-1) affiliates to fire-1 only; bob does not.
    for (const [user, groups] of [
      ['alice', ['fire-1']],
      ['dispatcher', ['fire-1']],
    ] as const) {
      const id = `sip:${user}@primary.example`;
      const pidf = serializeAffiliationPidf({
        entity: id,
        clientId: `${user}-phone`,
        affiliations: groups.map((g) => ({
          groupId: `sip:${g}@primary.example`,
          expiresAt: Date.now() + 600_000,
        })),
      });
      await call(primary, 'POST', '/edge/affiliations', {
        raw: pidf,
        headers: { ...edge, 'content-type': 'application/pidf+xml', 'x-mcptt-asserted-identity': id },
      });
    }
    const dispatcher = await login(primary, 'dispatcher', 'dispatcher-pass');
    const created = await call(primary, 'POST', '/regroups', {
      token: dispatcher,
      body: { constituents: ['fire-1', 'police-1', 'ambulance-1@partner.example'], name: 'resolve-me' },
    });
    expect(created.status).toBe(201);
  }, 60_000);
  afterAll(async () => local?.stop());

  it('lists affiliated local members once, with required flags, and the partner constituents', async () => {
    const deps = local.get('primary.example').deps;
    const out = await resolveTemporaryGroup(
      { callId: 'call-1', tgi: 'sip:resolve-me@primary.example' },
      deps,
    );
    expect(out.tgi).toBe('sip:resolve-me@primary.example');
    // The longest acknowledgement timer of the constituents: police-1 keeps the default 5,000 ms.
    expect(out.acknowledgementTimeoutSeconds).toBe(5);
    expect(out.localMembers.sort((a, b) => a.mcpttId.localeCompare(b.mcpttId))).toEqual([
      {
        mcpttId: 'sip:alice@primary.example',
        system: 'primary.example',
        required: true,
        groupId: 'sip:fire-1@primary.example',
      },
      {
        mcpttId: 'sip:dispatcher@primary.example',
        system: 'primary.example',
        required: false,
        groupId: 'sip:fire-1@primary.example',
      },
    ]);
    expect(out.partners).toEqual([
      {
        callId: 'call-1',
        tgi: 'sip:resolve-me@primary.example',
        partner: 'partner.example',
        groups: ['sip:ambulance-1@partner.example'],
      },
    ]);
  });

  it('refuses an unknown temporary group', async () => {
    const deps = local.get('primary.example').deps;
    await expect(
      resolveTemporaryGroup({ callId: 'c', tgi: 'sip:nope@primary.example' }, deps),
    ).rejects.toThrow(DomainError);
  });
});
