/** Routing of INVITEs that reach the edge: relay to a registered user, 302 for a regrouped group. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legSignatureParts } from '#core/partner-leg.ts';
import { signRequest } from '#core/request-signing.ts';
import type { LocalSystems } from '#local/systems.ts';
import { call, demoConfig, login, startDemo } from '../support/local-systems.ts';

describe('Function: call-routing (POST /edge/calls)', () => {
  let local: LocalSystems;
  let primary: string;
  let partner: string;
  let edge: Record<string, string>;
  let partnerEdge: Record<string, string>;

  beforeAll(async () => {
    const config = await demoConfig();
    local = await startDemo({ config });
    primary = local.get('primary.example').url;
    partner = local.get('partner.example').url;
    edge = { authorization: `Bearer ${config.systems[0]?.edgeToken}` };
    partnerEdge = { authorization: `Bearer ${config.systems[1]?.edgeToken}` };
  }, 60_000);
  afterAll(async () => local?.stop());

  const route = (base: string, headers: Record<string, string>, target: string) =>
    call(base, 'POST', '/edge/calls', {
      headers,
      body: { caller: 'sip:alice@primary.example', target, callId: 'c1' },
    });

  it('relays a call to a registered user, 480 when not registered, 404 when unknown', async () => {
    expect((await route(primary, edge, 'sip:bob@primary.example')).body).toMatchObject({
      action: 'reject',
      status: 480,
    });
    await call(primary, 'POST', '/edge/registrations', {
      headers: edge,
      body: { mcpttId: 'bob', contact: 'sip:bob@127.0.0.1:7777', expires: 60 },
    });
    expect((await route(primary, edge, 'sip:bob@primary.example')).body).toEqual({
      action: 'relay',
      targets: [{ contact: 'sip:bob@127.0.0.1:7777' }],
    });
    expect((await route(primary, edge, 'sip:nobody@primary.example')).body).toMatchObject({
      action: 'reject',
      status: 404,
    });
    expect((await route(primary, edge, 'sip:x@elsewhere.example')).body).toMatchObject({
      action: 'reject',
      status: 404,
    });
  });

  it('redirects a call to a regrouped group to its temporary group with Warning 148; afterwards a group call (alice is no member: 403 116)', async () => {
    const dispatcher = await login(primary, 'dispatcher', 'dispatcher-pass');
    const created = await call(primary, 'POST', '/regroups', {
      token: dispatcher,
      body: { constituents: ['fire-1', 'ambulance-1@partner.example'], name: 'routing-test' },
    });
    expect(created.status).toBe(201);
    expect((await route(partner, partnerEdge, 'sip:ambulance-1@partner.example')).body).toEqual({
      action: 'redirect',
      status: 302,
      contact: 'sip:routing-test@primary.example',
      warningCode: 148,
      warning: 'MCPTT group is regrouped',
    });
    await call(primary, 'DELETE', '/regroups/routing-test', { token: dispatcher });
    expect((await route(partner, partnerEdge, 'sip:ambulance-1@partner.example')).body).toMatchObject({
      action: 'reject',
      status: 403,
      warningCode: 116,
    });
  });

  it('400 for a malformed request, 403 without the edge credential', async () => {
    expect(
      (await call(primary, 'POST', '/edge/calls', { headers: edge, body: { caller: 'x' } })).status,
    ).toBe(400);
    expect(
      (await call(primary, 'POST', '/edge/calls', { body: { caller: 'x', target: 'y', callId: 'z' } }))
        .status,
    ).toBe(403);
  });

  it('edgeUrl (the edge task holding the INVITE): an http(s) URL of a host and port, else 400', async () => {
    const withEdgeUrl = (edgeUrl: unknown) =>
      call(primary, 'POST', '/edge/calls', {
        headers: edge,
        body: {
          caller: 'sip:alice@primary.example',
          target: 'sip:nobody@primary.example',
          callId: 'c2',
          edgeUrl,
        },
      });
    for (const ok of [
      'http://10.0.1.7:8061',
      'http://127.0.0.1:8061/',
      'https://edge-1.mcptt.internal:8061',
    ]) {
      expect((await withEdgeUrl(ok)).body, ok).toMatchObject({ action: 'reject', status: 404 });
    }
    for (const bad of [
      'ftp://10.0.1.7:8061',
      'http://user:secret@10.0.1.7:8061',
      'http://10.0.1.7:8061/v1',
      'http://10.0.1.7:8061?x=1',
      'http://bad_host!:8061',
      `http://${'a'.repeat(300)}.example`,
      'not a url',
      42,
    ]) {
      const res = await withEdgeUrl(bad);
      expect(res.status, String(bad)).toBe(400);
      expect(JSON.stringify(res.body), String(bad)).toContain('edgeUrl');
    }
  });

  it('answers a batch of INVITEs (`{ calls }`) with one route each, in order; a malformed item: 400', async () => {
    await call(primary, 'POST', '/edge/registrations', {
      headers: edge,
      body: { mcpttId: 'bob', contact: 'sip:bob@127.0.0.1:7778', expires: 60 },
    });
    const item = (target: string, callId: string) => ({
      caller: 'sip:alice@primary.example',
      target,
      callId,
    });
    const res = await call<{ routes: unknown[] }>(primary, 'POST', '/edge/calls', {
      headers: edge,
      body: {
        calls: [
          item('sip:bob@primary.example', 'b1'),
          item('sip:nobody@primary.example', 'b2'),
          item('sip:x@elsewhere.example', 'b3'),
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.routes).toHaveLength(3);
    expect(res.body.routes[0]).toMatchObject({
      action: 'relay',
      targets: expect.arrayContaining([{ contact: 'sip:bob@127.0.0.1:7778' }]),
    });
    expect(res.body.routes[1]).toMatchObject({ action: 'reject', status: 404 });
    expect(res.body.routes[2]).toMatchObject({
      action: 'reject',
      status: 404,
      warning: 'not served by primary.example',
    });
    const bad = await call(primary, 'POST', '/edge/calls', {
      headers: edge,
      body: { calls: [item('sip:bob@primary.example', 'b4'), { caller: 'sip:alice@primary.example' }] },
    });
    expect(bad.status).toBe(400);
    expect((await call(primary, 'POST', '/edge/calls', { headers: edge, body: { calls: [] } })).status).toBe(
      400,
    );
  });

  it('authorizes the partner legs of a batch together, the other INVITEs beside them, routes in order', async () => {
    const signedLeg = (member: string, callId: string) => ({
      caller: 'sip:dispatcher@primary.example',
      target: member,
      callId: `sip-${callId}-${member}`,
      partnerLeg: {
        tgi: 'sip:batch-tg@primary.example',
        headers: Object.fromEntries(
          Object.entries({
            ...signRequest({
              ...legSignatureParts({ member, tgi: 'sip:batch-tg@primary.example', callId }),
              sender: 'primary.example',
              target: 'partner.example',
              keyId: 'primary-partner-2026',
              key: 'zneKPcU1uWCLtxoib_vIR_FXCb-Mi7taHz73uENidI0',
              now: Date.now(),
            }),
            'X-MCPTT-Call': callId,
          }).map(([k, v]) => [k.toLowerCase(), v]),
        ),
      },
    });
    // No interrogation of this call: no pass, so the legs are checked from the store (carol's group is
    // not regrouped into the TGI: 403 116).
    const carol = signedLeg('sip:carol@partner.example', 'batch-call');
    const tampered = {
      ...signedLeg('sip:carol@partner.example', 'batch-call'),
      target: 'sip:dave@partner.example',
    };
    const batch = (calls: unknown[]) =>
      call<{ routes: Record<string, unknown>[] }>(partner, 'POST', '/edge/calls', {
        headers: partnerEdge,
        body: { calls },
      });
    const res = await batch([
      carol,
      { caller: 'sip:carol@partner.example', target: 'sip:nobody@partner.example', callId: 'plain-1' },
      tampered,
      carol,
      { caller: 'sip:carol@partner.example', target: 'sip:x@elsewhere.example', callId: 'plain-2' },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.routes).toMatchObject([
      { action: 'reject', status: 403, warningCode: 116 },
      { action: 'reject', status: 404 },
      { action: 'reject', status: 403, warning: 'bad signature' },
      { action: 'reject', status: 403, warning: 'replayed partner leg' },
      { action: 'reject', status: 404, warning: 'not served by partner.example' },
    ]);
    // The same leg in a later batch (or alone) is a replay.
    expect((await batch([carol])).body.routes).toMatchObject([
      { action: 'reject', status: 403, warning: 'replayed partner leg' },
    ]);
    expect(
      (await call(partner, 'POST', '/edge/calls', { headers: partnerEdge, body: carol })).body,
    ).toMatchObject({
      action: 'reject',
      status: 403,
      warning: 'replayed partner leg',
    });
  });
});
