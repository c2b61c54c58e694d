/**
 * Member responses on dynalite (functions/workflow/member-response.ts and its route handler): a
 * duplicated report counts once, exactly one report completes the wait under concurrency, and a
 * required member's decline with the abandon policy completes it with the abandon decision.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallStore } from '#adapters/dynamo/call-store.ts';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import type { CallPolicy } from '#core/model.ts';
import { buildHandler } from '#functions/member-response/handler.ts';
import type { AppDeps } from '#functions/shared/deps.ts';
import { legStateOf, recordMemberResponse } from '#functions/workflow/member-response.ts';
import { startCallStore } from '../support/call-store.ts';

class FakeWorkflow {
  readonly succeeded: { token: string; output: unknown }[] = [];
  async taskSucceeded(token: string, output: unknown): Promise<void> {
    this.succeeded.push({ token, output });
  }
}

describe('member responses', () => {
  let db: Awaited<ReturnType<typeof startCallStore>>;
  let calls: CallStore;

  beforeAll(async () => {
    db = await startCallStore();
    calls = db.store;
  });
  afterAll(async () => db?.close());

  const newCall = async (
    callId: string,
    legs: number,
    opts: { required?: number[]; policy?: Partial<CallPolicy>; token?: boolean } = {},
  ) => {
    await calls.createCall({
      callId,
      sipCallId: `${callId}@sip`,
      tgi: 'sip:tg@primary.example',
      caller: 'sip:alice@primary.example',
      createdAt: Date.now(),
      status: 'setting-up',
    });
    await calls.setPolicy(callId, { ...DEFAULT_CALL_POLICY, minimumNumberToStart: 1, ...opts.policy });
    await calls.addLegs(
      callId,
      Array.from({ length: legs }, (_, i) => ({
        legId: `m${i}`,
        member: `sip:m${i}@primary.example`,
        system: 'primary.example',
        required: opts.required?.includes(i) ?? false,
      })),
    );
    if (opts.token !== false) await calls.setTaskToken(callId, `token-${callId}`);
  };
  const report = (callId: string, legId: string, status: number, reason = 'OK') => ({
    callId,
    legId,
    target: `sip:${legId}@primary.example`,
    status,
    reason,
  });

  it('maps final statuses to leg states', () => {
    expect(legStateOf(200)).toBe('accepted');
    for (const s of [480, 486, 487, 603]) expect(legStateOf(s)).toBe('declined');
    expect(legStateOf(499, 'Decline')).toBe('declined');
    expect(legStateOf(404)).toBe('failed');
    expect(legStateOf(503)).toBe('failed');
  });

  it('stores the policy on the call record', async () => {
    await newCall('pol', 1, { policy: { actionOnExpiry: 'abandon' } });
    expect((await calls.getCall('pol'))?.policy).toMatchObject({
      actionOnExpiry: 'abandon',
      minimumNumberToStart: 1,
    });
  });

  it('counts a duplicated report once', async () => {
    await newCall('dup', 3, { required: [0, 1] });
    const workflow = new FakeWorkflow();
    const first = await recordMemberResponse(report('dup', 'm0', 200), { calls, workflow });
    const again = await recordMemberResponse(report('dup', 'm0', 200), { calls, workflow });
    expect(first).toEqual({ counted: true, state: 'accepted', decision: 'wait' });
    expect(again).toEqual({ counted: false });
    expect((await calls.getCall('dup'))?.counters).toMatchObject({ accepted: 1, requiredAccepted: 1 });
    expect(workflow.succeeded).toEqual([]);
  });

  it('completes the wait exactly once when concurrent reports all decide', async () => {
    await newCall('race', 8);
    const workflow = new FakeWorkflow();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        recordMemberResponse(report('race', `m${i}`, 200), { calls, workflow }),
      ),
    );
    expect(results.every((r) => r.counted && r.decision === 'proceed')).toBe(true);
    expect(results.filter((r) => r.completed === true)).toHaveLength(1);
    expect(workflow.succeeded).toEqual([
      { token: 'token-race', output: { decision: { decision: 'proceed' } } },
    ]);
  });

  it('a required member declining with the abandon policy completes the wait with abandon 480 + 112', async () => {
    await newCall('abandon', 3, { required: [1], policy: { actionOnExpiry: 'abandon' } });
    const workflow = new FakeWorkflow();
    const out = await recordMemberResponse(report('abandon', 'm1', 603, 'Decline'), { calls, workflow });
    expect(out).toEqual({ counted: true, state: 'declined', decision: 'abandon', completed: true });
    expect(workflow.succeeded).toHaveLength(1);
    expect(workflow.succeeded[0]).toMatchObject({
      token: 'token-abandon',
      output: { decision: { decision: 'abandon', status: 480, warningCode: 112 } },
    });
    // A later answer is recorded but the decision is already taken.
    const later = await recordMemberResponse(report('abandon', 'm0', 200), { calls, workflow });
    expect(later.counted).toBe(true);
    expect(workflow.succeeded).toHaveLength(1);
  });

  it('records the answer when the wait is already over (the timer expired): no error, not completed', async () => {
    await newCall('late', 1);
    const gone = Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' });
    const workflow = {
      taskSucceeded: async () => {
        throw gone;
      },
    };
    expect(await recordMemberResponse(report('late', 'm0', 200), { calls, workflow })).toEqual({
      counted: true,
      state: 'accepted',
      decision: 'proceed',
      completed: false,
    });
    const other = Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    await newCall('throttled', 1);
    await expect(
      recordMemberResponse(report('throttled', 'm0', 200), {
        calls,
        workflow: {
          taskSucceeded: async () => {
            throw other;
          },
        },
      }),
    ).rejects.toThrow('throttled');
  });

  it('does not complete a call without a task token', async () => {
    await newCall('notoken', 1, { token: false });
    const workflow = new FakeWorkflow();
    expect(await recordMemberResponse(report('notoken', 'm0', 200), { calls, workflow })).toEqual({
      counted: true,
      state: 'accepted',
      decision: 'proceed',
    });
    expect(workflow.succeeded).toEqual([]);
  });

  it('POST /edge/leg-results records the report; a duplicate answers { counted: false }', async () => {
    await newCall('http', 2);
    const workflow = new FakeWorkflow();
    const handler = buildHandler(async () => ({ calls, workflow }) as unknown as AppDeps);
    const post = (body: unknown) =>
      handler(
        {
          routeKey: 'POST /edge/leg-results',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          isBase64Encoded: false,
        } as unknown as APIGatewayProxyEventV2,
        {} as Context,
      );
    const res = await post({ ...report('http', 'm0', 486, 'Busy Here'), warning: '399 x "110 declined"' });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(String(res.body))).toEqual({ counted: true, state: 'declined', decision: 'wait' });
    const dup = await post(report('http', 'm0', 486, 'Busy Here'));
    expect(JSON.parse(String(dup.body))).toEqual({ counted: false });
    const bad = await post({ callId: 'http', legId: 'm1', status: 100 });
    expect(bad.statusCode).toBe(400);
  });

  it('POST /edge/leg-results takes a batch: each report counted once, the wait completed once', async () => {
    await newCall('batch', 30);
    const workflow = new FakeWorkflow();
    const handler = buildHandler(async () => ({ calls, workflow }) as unknown as AppDeps);
    const post = (body: unknown) =>
      handler(
        {
          routeKey: 'POST /edge/leg-results',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          isBase64Encoded: false,
        } as unknown as APIGatewayProxyEventV2,
        {} as Context,
      );
    const reports = Array.from({ length: 30 }, (_, i) => report('batch', `m${i}`, i === 7 ? 486 : 200));
    // m3 twice in one batch: counted once.
    const res = await post({ reports: [...reports, report('batch', 'm3', 200)] });
    expect(res.statusCode).toBe(200);
    const { results } = JSON.parse(String(res.body)) as {
      results: { counted: boolean; completed?: boolean }[];
    };
    expect(results).toHaveLength(31);
    expect(results.filter((r) => r.counted)).toHaveLength(30);
    expect(results.filter((r) => r.completed === true)).toHaveLength(1);
    expect(workflow.succeeded).toHaveLength(1);
    expect((await calls.getCall('batch'))?.counters).toMatchObject({ total: 30, accepted: 29, lost: 1 });
    // An empty batch, a batch over the limit, or one bad report in a batch: 400, nothing recorded.
    expect((await post({ reports: [] })).statusCode).toBe(400);
    const tooMany = Array.from({ length: 101 }, (_, i) => report('batch', `z${i}`, 200));
    expect((await post({ reports: tooMany })).statusCode).toBe(400);
    await newCall('batchbad', 2);
    const mixed = await post({
      reports: [report('batchbad', 'm0', 200), { callId: 'batchbad', legId: 'm1' }],
    });
    expect(mixed.statusCode).toBe(400);
    expect((await calls.getCall('batchbad'))?.counters).toMatchObject({ accepted: 0, lost: 0 });
  });
});
