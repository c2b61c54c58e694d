/**
 * Every edge operation of a group call goes to the edge that holds the call (decision 0011): the edge
 * names its own control API with the INVITE (`edgeUrl` of `POST /edge/calls`), the call stores it, and
 * the functions originate the members' legs, answer the held INVITE, and CANCEL or BYE the legs there.
 *
 * Here the functions' default edge (`EDGE_CONTROL_URL`, in AWS a Cloud Map name that resolves to any
 * edge task) is a dead address: had any of those operations gone to the default edge instead of the
 * call's, alice would get no 200 (no member invited, no final response), the members no BYE or CANCEL.
 * Same systems and regroup as seed-flow.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallSetupResult, parseCallSetupResultXml } from '#core/call-setup-result.ts';
import { type LocalSystems, startLocalSystems } from '#local/systems.ts';
import { callIdOf } from '../../sip/message/accessors.ts';
import { parseMultipart } from '../../sip/message/multipart.ts';
import type { SipResponse } from '../../sip/message/types.ts';
import { demoConfig, REFUSED_PORT } from '../support/local-systems.ts';
import { regroupSeed, SeedUas } from '../support/seed-scenario.ts';
import type { SipUa } from '../support/sip-ua.ts';

const TGI = 'sip:seed@primary.example';

/** The call setup result part of a 200's multipart body. */
const resultOf = (final: SipResponse): CallSetupResult => {
  const parts = parseMultipart(final.body, final.headers.get('Content-Type') ?? '');
  const part = parts.find((p) =>
    p.headers.some(([n, v]) => n.toLowerCase() === 'content-type' && v.includes('call-setup-result')),
  );
  expect(part, 'call setup result body part').toBeDefined();
  return parseCallSetupResultXml(part?.body.toString() ?? '');
};

describe("Feature: a group call's edge operations go to the edge that holds it, not to the default edge", () => {
  let local: LocalSystems;
  let deadDefault: string;
  const uas = new SeedUas(() => local);
  let alice: SipUa;
  let dispatcher: SipUa;
  let carol: SipUa;

  beforeAll(async () => {
    // A loopback port nobody listens on: every request to it is refused.
    deadDefault = `http://127.0.0.1:${REFUSED_PORT}`;
    local = await startLocalSystems(await demoConfig(), { defaultEdgeControlUrl: deadDefault });
    ({ alice, dispatcher, carol } = await uas.online('alice', 'dispatcher', 'carol'));
    // The regroup notices go to the default edge (dead here): best effort, the regroup stands.
    await regroupSeed(local);
  }, 60_000);
  afterAll(async () => {
    await uas.close();
    await local?.stop();
  });

  it('the default edge is unreachable; the edge names its own control API', async () => {
    const primary = local.get('primary.example');
    await expect(
      primary.deps.edge?.sendMessages({ from: TGI, contentType: 'text/plain', body: 'x', targets: [] }),
    ).rejects.toThrow();
    expect(primary.edge.controlUrl).toBe(primary.control.url);
    expect(primary.control.url).not.toBe(deadDefault);
  });

  it("alice's call: members invited and alice answered through the call's edge; her BYE ends the legs there", async () => {
    dispatcher.answerCalls('answer', 20);
    carol.answerCalls('answer', 40);
    const { exchange } = await alice.start(alice.invite(TGI));
    const final = await exchange.final(15_000);
    expect(final.status, final.reason).toBe(200);
    await alice.send(alice.ack(exchange.request, final));
    const dispatcherInvite = await dispatcher.takeRequest('INVITE');
    const carolInvite = await carol.takeRequest('INVITE');

    // The call record names the edge that holds it.
    const primary = local.get('primary.example');
    const { callId } = resultOf(final);
    const calls = primary.deps.calls;
    expect((await calls?.getCall(callId))?.edgeUrl).toBe(primary.control.url);

    const bye = await alice.request(alice.bye(alice.dialogOf(exchange.request, final)));
    expect(bye.response.status).toBe(200);
    await dispatcher.takeRequest('BYE', callIdOf(dispatcherInvite), 5_000);
    await carol.takeRequest('BYE', callIdOf(carolInvite), 5_000);
    expect((await calls?.getCall(callId))?.status).toBe('released');
  }, 30_000);

  it("alice cancels while the members ring: the CANCELs leave from the call's edge", async () => {
    await dispatcher.drain(200);
    await carol.drain(10);
    dispatcher.answerCalls('ring');
    carol.answerCalls('ring');
    const { exchange } = await alice.start(alice.invite(TGI));
    const dispatcherInvite = await dispatcher.takeRequest('INVITE');
    const carolInvite = await carol.takeRequest('INVITE');
    expect((await alice.request(alice.cancel(exchange.request))).response.status).toBe(200);
    expect((await exchange.final(10_000)).status).toBe(487);
    // Well before TNG1 (4 s) would end the setup anyway.
    await dispatcher.takeRequest('CANCEL', callIdOf(dispatcherInvite), 2_000);
    await carol.takeRequest('CANCEL', callIdOf(carolInvite), 2_000);
  }, 30_000);
});
