/**
 * Issue 4, acceptance point h, over real SIP on loopback with two local systems: a retransmitted
 * INVITE and a duplicated SQS message → one call, one set of invitations.
 *
 * - The caller's INVITE to the TGI is retransmitted byte for byte (same branch), as a UDP UA does on
 *   Timer A (RFC 3261 §17.1.1.2) when it has seen no provisional response: the edge's INVITE server
 *   transaction absorbs the copies (§17.2.1: 100 again while Proceeding; nothing once the 2xx is sent,
 *   RFC 6026 §7.1), so call routing sees the INVITE once.
 * - An INVITE with the same Call-ID but a new branch and CSeq (no transaction matches it) reaches call
 *   routing, whose SIP Call-ID claim refuses a second call: 491 with Warning 123 (TS 24.379).
 * - The local systems run with the test hook `duplicateSqsDeliveries`: the interrogation queue delivers
 *   every message twice, concurrently (SQS is at-least-once). Each delivery asks the partner, but only
 *   the first SendTaskSuccess on the task token counts; the second is refused with TaskTimedOut, as
 *   Step Functions does, and the interrogator takes that as final.
 *
 * Observed: call routing's claims and created calls (spies on the primary's call store, the instance
 * the functions use), the HTTP requests of both systems (`onRequest`), every SendTaskSuccess the
 * functions send and its outcome (a spy on the SDK client), and what each SIP UA receives.
 */
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DeleteMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import type { CallStore } from '#adapters/dynamo/call-store.ts';
import {
  CALL_SETUP_RESULT_TYPE,
  type CallSetupResult,
  parseCallSetupResultXml,
} from '#core/call-setup-result.ts';
import { type LocalSystems, startLocalSystems } from '#local/systems.ts';
import { callIdOf, cseqOf, toTag } from '../../sip/message/accessors.ts';
import { parseMultipart } from '../../sip/message/multipart.ts';
import { serializeMessage } from '../../sip/message/serializer.ts';
import type { SipRequest, SipResponse } from '../../sip/message/types.ts';
import { demoConfig } from '../support/local-systems.ts';
import { regroupSeed, SeedUas } from '../support/seed-scenario.ts';
import type { SipUa } from '../support/sip-ua.ts';

const TGI = 'sip:seed@primary.example';
const PRIMARY = 'primary.example';
const PARTNER = 'partner.example';
/** The members answer this long after their INVITE: the call setup outlasts the caller's retransmissions. */
const ANSWER_MS = 1500;
/** Timer A intervals of the caller (T1, 2·T1, 4·T1 with T1 shortened to 100 ms; all before ANSWER_MS). */
const TIMER_A_MS = [100, 200, 400];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface HttpLog {
  system: string;
  method: string;
  path: string;
  status: number;
}

/** The call setup result of a 200 (a part of its multipart body). */
const resultOf = (final: SipResponse): CallSetupResult => {
  const contentType = final.headers.get('Content-Type') ?? '';
  const part = parseMultipart(final.body, contentType).find((p) =>
    p.headers.some(([n, v]) => n.toLowerCase() === 'content-type' && v.includes(CALL_SETUP_RESULT_TYPE)),
  );
  expect(part, 'call setup result body part').toBeDefined();
  return parseCallSetupResultXml(part?.body.toString() ?? '');
};

/** A SendTaskSuccess the functions sent, and how Step Functions answered it. */
interface TaskAnswer {
  token: string;
  output: unknown;
  /** `accepted`, or the name of the error Step Functions answered with. */
  outcome: string;
}

describe('Feature: duplicates never make a second call (issue 4 h: retransmitted INVITE, duplicated SQS message)', () => {
  let local: LocalSystems;
  const uas = new SeedUas(() => local);
  let alice: SipUa;
  let dispatcher: SipUa;
  let carol: SipUa;
  let dave: SipUa;
  const http: HttpLog[] = [];
  let calls: CallStore;
  let claimSpy: MockInstance<CallStore['claimSipCallId']>;
  let createSpy: MockInstance<CallStore['createCall']>;
  let sfnSpy: MockInstance;
  let sqsSpy: MockInstance;

  const requestsTo = (system: string, method: string, path: string) =>
    http.filter((r) => r.system === system && r.method === method && r.path === path);

  /** Every SendTaskSuccess sent since the last clear, once Step Functions has answered each. */
  const taskAnswers = async (): Promise<TaskAnswer[]> => {
    for (let i = 0; i < 100 && sfnSpy.mock.settledResults.some((r) => r.type === 'incomplete'); i++)
      await sleep(20);
    return sfnSpy.mock.calls.flatMap(([command], i) => {
      if (!(command instanceof SendTaskSuccessCommand)) return [];
      const settled = sfnSpy.mock.settledResults[i];
      return [
        {
          token: command.input.taskToken ?? '',
          output: JSON.parse(command.input.output ?? 'null') as unknown,
          outcome:
            settled?.type === 'fulfilled'
              ? 'accepted'
              : settled?.type === 'rejected'
                ? (settled.value as Error).name
                : 'incomplete',
        },
      ];
    });
  };

  /**
   * The interrogation of the partner was delivered twice: the partner was asked twice, Step Functions
   * took the first answer and refused the second (TaskTimedOut); every other task token (the
   * members' responses) was answered once.
   */
  const expectOneTaskResultPerToken = async () => {
    const interrogations = requestsTo(PARTNER, 'POST', '/partner/v1/interrogations');
    expect(interrogations.map((r) => r.status)).toEqual([200, 200]);
    const answers = await taskAnswers();
    const byToken = new Map<string, TaskAnswer[]>();
    for (const a of answers) byToken.set(a.token, [...(byToken.get(a.token) ?? []), a]);
    const twice = [...byToken.values()].filter((a) => a.length > 1);
    expect(twice, JSON.stringify(answers.map((a) => [a.token.slice(-8), a.outcome]))).toHaveLength(1);
    const [duplicated] = twice;
    expect(duplicated?.map((a) => a.outcome).sort()).toEqual(['TaskTimedOut', 'accepted']);
    for (const a of duplicated ?? []) expect(a.output).toMatchObject({ partner: PARTNER });
    for (const [, once] of [...byToken].filter(([, a]) => a.length === 1))
      expect(once.map((a) => a.outcome)).toEqual(['accepted']);
  };

  /**
   * The workflow sent one interrogation message, and the event source deleted it once both
   * deliveries were done: neither reported it failed (a refused second SendTaskSuccess is final).
   */
  const expectMessageConsumedOnce = async () => {
    const of = <T>(type: abstract new (...args: never[]) => T) =>
      sqsSpy.mock.calls.flatMap(([command], i) =>
        command instanceof type ? [{ command, settled: sqsSpy.mock.settledResults[i] }] : [],
      );
    expect(of(SendMessageCommand)).toHaveLength(1);
    const deletes = of(DeleteMessageBatchCommand);
    expect(deletes.map((d) => d.command.input.Entries?.length)).toEqual([1]);
    expect(deletes[0]?.settled).toMatchObject({ type: 'fulfilled', value: { Successful: [{}] } });
    expect(deletes[0]?.settled?.value?.Failed ?? []).toHaveLength(0);
  };

  /** The INVITEs a member's UA got (retransmissions included) over `ms`; the other messages are dropped. */
  const invitesTo = async (u: SipUa, ms: number): Promise<SipRequest[]> =>
    (await u.drain(ms)).flatMap((m) =>
      m.message.kind === 'request' && m.message.method === 'INVITE' ? [m.message] : [],
    );

  /** One call record, for that SIP Call-ID, established, with one leg per invited member. */
  const expectOneCall = async (sipCallId: string) => {
    const created = createSpy.mock.calls.map(([c]) => c);
    expect(created.map((c) => c.sipCallId)).toEqual([sipCallId]);
    const callId = created[0]?.callId ?? '';
    const record = await calls.getCall(callId);
    expect(record).toMatchObject({
      sipCallId,
      tgi: TGI,
      caller: 'sip:alice@primary.example',
      status: 'established',
    });
    expect(record?.counters).toMatchObject({ total: 2, accepted: 2, lost: 0 });
    const legs = await calls.listLegs(callId);
    expect(legs.map((l) => l.member).sort()).toEqual([
      'sip:carol@partner.example',
      'sip:dispatcher@primary.example',
    ]);
    return callId;
  };

  /** The 200's call setup result: one member invited and accepted in each system. */
  const expectSeedResult = (final: SipResponse) => {
    const result = resultOf(final);
    expect(result.outcome).toBe('success');
    expect(result.systems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ system: PRIMARY, invited: 1, accepted: 1 }),
        expect.objectContaining({ system: PARTNER, invited: 1, accepted: 1 }),
      ]),
    );
    expect(result.systems).toHaveLength(2);
    return result;
  };

  beforeAll(async () => {
    local = await startLocalSystems(await demoConfig(), {
      duplicateSqsDeliveries: true,
      onRequest: ({ system, method, path, status }) => http.push({ system, method, path, status }),
    });
    const primaryCalls = local.get(PRIMARY).deps.calls;
    if (!primaryCalls) throw new Error('the primary has no call store');
    calls = primaryCalls;
    claimSpy = vi.spyOn(calls, 'claimSipCallId');
    createSpy = vi.spyOn(calls, 'createCall');
    sfnSpy = vi.spyOn(SFNClient.prototype, 'send');
    sqsSpy = vi.spyOn(SQSClient.prototype, 'send');
    ({ alice, dispatcher, carol, dave } = await uas.online('alice', 'dispatcher', 'carol', 'dave'));
    await regroupSeed(local);
  }, 60_000);

  beforeEach(async () => {
    // The regroup notices, or what is left of the previous call.
    await Promise.all([dispatcher.drain(300), carol.drain(300), dave.drain(300), alice.drain(300)]);
    http.length = 0;
    claimSpy.mockClear();
    createSpy.mockClear();
    sfnSpy.mockClear();
    sqsSpy.mockClear();
    dispatcher.answerCalls('answer', ANSWER_MS);
    carol.answerCalls('answer', ANSWER_MS);
    dave.answerCalls('answer');
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await uas.close();
    await local?.stop();
  });

  it('h. the INVITE retransmitted byte for byte (Timer A) during the setup, the interrogation delivered twice: one call, one INVITE per member, one 200', async () => {
    const { exchange } = await alice.start(alice.invite(TGI)); // after the digest challenge
    const invite = exchange.request;
    const bytes = serializeMessage(invite);
    const finals = () => exchange.responses.filter((r) => r.status >= 200).map((r) => r.status);

    // Timer A: the same request again, while no final response came.
    let retransmitted = 0;
    for (const ms of TIMER_A_MS) {
      await sleep(ms);
      expect(finals(), 'no final response before this retransmission').toEqual([]);
      expect(serializeMessage(invite).equals(bytes)).toBe(true);
      await alice.send(invite);
      retransmitted++;
    }
    const final = await exchange.final(15_000);
    expect(final.status, final.reason).toBe(200);
    // One more copy crossing the 200 (sent before the ACK): absorbed by the Accepted transaction.
    await alice.send(invite);
    await sleep(50);
    await alice.send(alice.ack(invite, final));
    await sleep(700); // longer than the edge's first 2xx retransmission interval (T1)

    // §17.2.1: each copy in Proceeding got the latest provisional response again (the 100); the
    // final response was sent once, and the copy after it got nothing.
    const statuses = exchange.responses.map((r) => r.status);
    expect(statuses).toEqual([...Array(1 + retransmitted).fill(100), 200]);
    expect(toTag(final)).toBeDefined();

    // Call routing saw the INVITE once: one claim of the SIP Call-ID, one call record.
    expect(requestsTo(PRIMARY, 'POST', '/edge/calls')).toHaveLength(1);
    expect(claimSpy.mock.calls.map(([sipCallId]) => sipCallId)).toEqual([callIdOf(invite)]);
    await expectOneCall(callIdOf(invite));

    // One set of invitations: exactly one INVITE to each affiliated member, none to dave.
    expect(await invitesTo(dispatcher, 10)).toHaveLength(1);
    expect(await invitesTo(carol, 10)).toHaveLength(1);
    expect(await invitesTo(dave, 10)).toHaveLength(0);

    await expectOneTaskResultPerToken();
    await expectMessageConsumedOnce();
    const result = expectSeedResult(final);
    console.log(
      `h (retransmitted INVITE ×${retransmitted + 1}, interrogation delivered twice): ${statuses.join(' ')}; ${JSON.stringify(result.systems)}`,
    );
  }, 30_000);

  it('h. the same Call-ID with a new branch and CSeq during the setup: 491 Warning 123, still one call and one INVITE per member', async () => {
    const { exchange } = await alice.start(alice.invite(TGI));
    const invite = exchange.request;
    const sipCallId = callIdOf(invite);
    // The members are ringing: the call is being set up.
    const dispatcherInvite = await dispatcher.takeRequest('INVITE', undefined, 5_000);
    const carolInvite = await carol.takeRequest('INVITE', undefined, 5_000);

    const again = await alice.request(
      alice.invite(TGI, {
        callId: sipCallId,
        from: invite.headers.get('From') ?? '',
        cseq: cseqOf(invite).seq + 1,
      }),
    );
    expect(again.response.status, again.response.reason).toBe(491);
    expect(again.response.headers.get('Warning')).toMatch(/^399 primary\.example "123 /);
    expect(again.request.headers.get('Via')).not.toBe(invite.headers.get('Via'));
    expect(cseqOf(again.request).seq).toBeGreaterThan(cseqOf(invite).seq);
    expect(
      exchange.responses.some((r) => r.status >= 200),
      'answered during the setup',
    ).toBe(false);

    const final = await exchange.final(15_000);
    expect(final.status, final.reason).toBe(200);
    await alice.send(alice.ack(invite, final));
    await sleep(700);
    expect(exchange.responses.filter((r) => r.status >= 200)).toHaveLength(1);

    // Both INVITEs reached call routing; only the first claimed the SIP Call-ID and made a call.
    expect(requestsTo(PRIMARY, 'POST', '/edge/calls')).toHaveLength(2);
    const claims = claimSpy.mock.settledResults.map((r) => r.value);
    expect(claims).toEqual([
      { callId: expect.any(String), created: true },
      { callId: claims[0]?.callId, created: false },
    ]);
    const callId = await expectOneCall(sipCallId);
    expect(claims[0]?.callId).toBe(callId);

    expect(dispatcher.calls.get(callIdOf(dispatcherInvite))?.acked).toBe(true);
    expect(carol.calls.get(callIdOf(carolInvite))?.acked).toBe(true);
    expect(await invitesTo(dispatcher, 10)).toHaveLength(0);
    expect(await invitesTo(carol, 10)).toHaveLength(0);
    expect(await invitesTo(dave, 10)).toHaveLength(0);

    await expectOneTaskResultPerToken();
    await expectMessageConsumedOnce();
    expectSeedResult(final);
  }, 30_000);
});
