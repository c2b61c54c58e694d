/**
 * The seed flow over real SIP on loopback, two local systems (TS 23.379, group call on a temporary
 * group formed by group regroup, multiple MCPTT systems): members register with digest and affiliate
 * with PUBLISH; the dispatcher regroups fire-1 (primary) and ambulance-1 (partner); alice calls the
 * TGI; every affiliated member of both systems gets exactly one INVITE; alice gets 200 only after the
 * invitations are answered, with the call setup complete result listing the counts per system.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCallSetupResultXml } from '#core/call-setup-result.ts';
import type { LocalSystems } from '#local/systems.ts';
import { callIdOf } from '../../sip/message/accessors.ts';
import { parseMultipart } from '../../sip/message/multipart.ts';
import type { SipResponse } from '../../sip/message/types.ts';
import { startDemo } from '../support/local-systems.ts';
import { regroupSeed, SeedUas } from '../support/seed-scenario.ts';
import type { SipUa } from '../support/sip-ua.ts';

describe('Feature: group call on a temporary group across two systems (seed flow)', () => {
  let local: LocalSystems;
  const uas = new SeedUas(() => local);
  let alice: SipUa;
  let dispatcher: SipUa;
  let carol: SipUa;
  let dave: SipUa;

  beforeAll(async () => {
    local = await startDemo();
    ({ alice, dispatcher, carol, dave } = await uas.online('alice', 'dispatcher', 'carol', 'dave'));
    await regroupSeed(local);
    // The regroup notices (SIP MESSAGE) reached the affiliated members; answered by the UAs.
    await dispatcher.drain(300);
    await carol.drain(50);
  }, 60_000);
  afterAll(async () => {
    await uas.close();
    await local?.stop();
  });

  it('a. alice calls the TGI: every affiliated member of both systems invited once, 200 after the answers, result per system', async () => {
    dispatcher.answerCalls('answer', 50);
    carol.answerCalls('answer', 80);
    dave.answerCalls('answer');
    const started = Date.now();
    const { exchange } = await alice.start(alice.invite('sip:seed@primary.example'));
    const final: SipResponse = await exchange.final(15_000);
    const setupMs = Date.now() - started;
    expect(final.status, final.reason).toBe(200);
    await alice.send(alice.ack(exchange.request, final));

    // Exactly one INVITE to each affiliated member of each constituent group; none to dave (not
    // regrouped) nor to alice (the initiator, though an affiliated member of fire-1).
    const dispatcherInvite = await dispatcher.takeRequest('INVITE');
    const carolInvite = await carol.takeRequest('INVITE');
    expect(dispatcherInvite.headers.get('To')).toContain('sip:dispatcher@primary.example');
    expect(carolInvite.headers.get('To')).toContain('sip:carol@partner.example');
    expect(carolInvite.body.toString()).toContain('<mcptt-calling-group-id');
    const extra = [
      ...(await dispatcher.drain(300)),
      ...(await carol.drain(10)),
      ...(await dave.drain(10)),
    ].filter((m) => m.message.kind === 'request' && m.message.method === 'INVITE');
    expect(extra).toHaveLength(0);
    expect(dispatcher.calls.get(callIdOf(dispatcherInvite))?.acked).toBe(true);

    // The 200 came only after both members answered (they answer after 50 and 80 ms).
    expect(setupMs).toBeGreaterThanOrEqual(80);
    const parts = parseMultipart(final.body, final.headers.get('Content-Type') ?? '');
    const resultPart = parts.find((p) =>
      p.headers.some(([n, v]) => n.toLowerCase() === 'content-type' && v.includes('call-setup-result')),
    );
    expect(resultPart).toBeDefined();
    const result = parseCallSetupResultXml(resultPart?.body.toString() ?? '');
    expect(result.outcome).toBe('success');
    expect(result.systems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ system: 'primary.example', invited: 1, accepted: 1 }),
        expect.objectContaining({ system: 'partner.example', invited: 1, accepted: 1 }),
      ]),
    );
    console.log(`seed flow: INVITE → 200 in ${setupMs} ms; ${JSON.stringify(result.systems)}`);

    // Release: alice hangs up; every member's leg ends (BYE through both edges), once.
    const bye = await alice.request(alice.bye(alice.dialogOf(exchange.request, final)));
    expect(bye.response.status).toBe(200);
    await dispatcher.takeRequest('BYE', callIdOf(dispatcherInvite), 5_000);
    await carol.takeRequest('BYE', callIdOf(carolInvite), 5_000);
    const calls = local.get('primary.example').deps.calls;
    const record = await calls?.getCall(result.callId);
    expect(record?.status).toBe('released');
    const more = [...(await dispatcher.drain(300)), ...(await carol.drain(10))].filter(
      (m) => m.message.kind === 'request' && m.message.method === 'BYE',
    );
    expect(more).toHaveLength(0);
  }, 30_000);

  it('e. a caller who is not affiliated gets 403 Warning 120; an unknown TGI gets 404', async () => {
    const bob = await uas.start('bob', 'primary.example');
    // bob is a member of police-1, not of a constituent: 403 Warning 116.
    const notMember = await bob.request(bob.invite('sip:seed@primary.example'));
    expect(notMember.response.status).toBe(403);
    expect(notMember.response.headers.get('Warning')).toMatch(/"116 /);
    // alice withdraws her affiliation (an empty PIDF de-affiliates): 403 Warning 120.
    expect((await alice.request(alice.publish({ groups: [] }))).response.status).toBe(200);
    const notAffiliated = await alice.request(alice.invite('sip:seed@primary.example'));
    expect(notAffiliated.response.status).toBe(403);
    expect(notAffiliated.response.headers.get('Warning')).toMatch(
      /"120 user is not affiliated to this group"/,
    );
    const unknown = await alice.request(alice.invite('sip:no-such-group@primary.example'));
    expect(unknown.response.status).toBe(404);
  }, 30_000);
});
