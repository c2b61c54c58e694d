/**
 * f. A partner member calls its own group while it is regrouped: 302 to the TGI with Warning 148
 * (TS 23.379 NOTE); once the regroup is cancelled, the same call is an ordinary group call through
 * the same workflow (no partners).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystems } from '#local/systems.ts';
import { parseNameAddr } from '../../sip/message/accessors.ts';
import { call, login, startDemo } from '../support/local-systems.ts';
import { SipUa } from '../support/sip-ua.ts';

describe('Feature: redirection of a regrouped group, then an ordinary group call', () => {
  let local: LocalSystems;
  const uas: SipUa[] = [];
  let carol: SipUa;
  let dave: SipUa;

  beforeAll(async () => {
    local = await startDemo();
    const partner = local.get('partner.example').url;
    // dave joins ambulance-1 (partner admin), so the group has someone to invite besides carol.
    const admin = await login(partner, 'admin', 'admin-pass');
    expect(
      (await call(partner, 'PUT', '/groups/ambulance-1/members/dave', { token: admin, body: {} })).status,
    ).toBe(200);
    for (const user of ['carol', 'dave']) {
      const u = await SipUa.start({
        user,
        password: `${user}-pass`,
        domain: 'partner.example',
        edge: local.get('partner.example').edge,
      });
      uas.push(u);
      expect((await u.request(u.register({ expires: 600 }))).response.status).toBe(200);
      expect(
        (await u.request(u.publish({ groups: ['sip:ambulance-1@partner.example'] }))).response.status,
      ).toBe(200);
    }
    [carol, dave] = uas as [SipUa, SipUa];
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(uas.map((u) => u.close()));
    await local?.stop();
  });

  it('302 to the TGI with Warning 148 while regrouped; an ordinary group call after the cancel', async () => {
    const primary = local.get('primary.example').url;
    const dispatcher = await login(primary, 'dispatcher', 'dispatcher-pass');
    const created = await call(primary, 'POST', '/regroups', {
      token: dispatcher,
      body: { constituents: ['fire-1', 'ambulance-1@partner.example'], name: 'redirect-me' },
    });
    expect(created.status).toBe(201);
    await carol.drain(100);
    await dave.drain(10);

    const redirected = await carol.request(carol.invite('sip:ambulance-1@partner.example'));
    expect(redirected.response.status).toBe(302);
    expect(parseNameAddr(redirected.response.headers.get('Contact') ?? '', 'Contact').uri).toBe(
      'sip:redirect-me@primary.example',
    );
    expect(redirected.response.headers.get('Warning')).toBe(
      '399 partner.example "148 MCPTT group is regrouped"',
    );

    expect((await call(primary, 'DELETE', '/regroups/redirect-me', { token: dispatcher })).status).toBe(200);
    await carol.drain(100);
    await dave.drain(10);

    dave.answerCalls('answer');
    const { exchange } = await carol.start(carol.invite('sip:ambulance-1@partner.example'));
    const final = await exchange.final(10_000);
    expect(final.status, final.reason).toBe(200);
    await carol.send(carol.ack(exchange.request, final));
    const daveInvite = await dave.takeRequest('INVITE');
    expect(daveInvite.headers.get('From')).toContain('sip:ambulance-1@partner.example');
  }, 30_000);
});
