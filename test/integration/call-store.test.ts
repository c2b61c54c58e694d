/**
 * Call legs and counters on dynalite: a duplicated response counts once, concurrent responses add up
 * exactly, and exactly one writer wins the commencement decision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSWERS_PER_UPDATE, type CallStore, legCountsOf } from '#adapters/dynamo/call-store.ts';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import { evaluateCommencementCounts } from '#core/commencement-policy.ts';
import { startCallStore } from '../support/call-store.ts';

describe('Class: CallStore', () => {
  let db: Awaited<ReturnType<typeof startCallStore>>;
  let store: CallStore;

  beforeAll(async () => {
    db = await startCallStore();
    store = db.store;
  });
  afterAll(async () => db?.close());

  const newCall = async (callId: string, legs: number, required: number[] = []) => {
    await store.createCall({
      callId,
      sipCallId: `${callId}@sip`,
      tgi: 'sip:tg@primary.example',
      caller: 'sip:alice@primary.example',
      createdAt: Date.now(),
      status: 'setting-up',
    });
    await store.addLegs(
      callId,
      Array.from({ length: legs }, (_, i) => ({
        legId: `m${i}`,
        member: `sip:m${i}@primary.example`,
        system: 'primary.example',
        required: required.includes(i),
      })),
    );
  };

  it('a retransmitted INVITE finds the call its SIP Call-ID already started', async () => {
    expect(await store.claimSipCallId('abc@host', 'call-A', 1)).toEqual({ callId: 'call-A', created: true });
    expect(await store.claimSipCallId('abc@host', 'call-B', 2)).toEqual({ callId: 'call-A', created: false });
  });

  it('counts a duplicated response once, even when the copies race', async () => {
    await newCall('dup', 3, [0]);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.recordResponse('dup', 'm0', { state: 'accepted', status: 200 })),
    );
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    const call = await store.getCall('dup');
    expect(call?.counters).toEqual({
      total: 3,
      required: 1,
      accepted: 1,
      requiredAccepted: 1,
      lost: 0,
      requiredLost: 0,
    });
    // Adding the same legs again changes nothing.
    expect(
      await store.addLegs('dup', [
        { legId: 'm1', member: 'sip:m1@primary.example', system: 'primary.example', required: false },
      ]),
    ).toBe(0);
  });

  it('adds concurrent responses exactly and lets exactly one writer take the decision', async () => {
    await newCall('race', 40, [0, 1]);
    const policy = { ...DEFAULT_CALL_POLICY, minimumNumberToStart: 10 };
    let decisions = 0;
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const recorded = await store.recordResponse(
          'race',
          `m${i}`,
          i % 4 === 3 ? { state: 'declined', status: 486 } : { state: 'accepted', status: 200 },
        );
        if (!recorded) return;
        const d = evaluateCommencementCounts(policy, legCountsOf(recorded.counters), { timerExpired: false });
        if (d.decision !== 'wait' && (await store.claimDecision('race'))) decisions++;
      }),
    );
    expect(decisions).toBe(1);
    const call = await store.getCall('race');
    expect(call?.counters).toEqual({
      total: 40,
      required: 2,
      accepted: 30,
      requiredAccepted: 2,
      lost: 10,
      requiredLost: 0,
    });
    expect(call?.decided).toBe(true);
    const legs = await store.listLegs('race');
    expect(legs.filter((l) => l.state === 'pending')).toHaveLength(0);
    expect(legs.find((l) => l.legId === 'm3')).toMatchObject({ state: 'declined', status: 486 });
  });

  it('returns the call policy and task token read by the same write as the counters', async () => {
    await newCall('meta', 2);
    await store.setPolicy('meta', DEFAULT_CALL_POLICY);
    await store.setTaskToken('meta', 'token-1');
    const recorded = await store.recordResponse('meta', 'm1', { state: 'accepted', status: 200 });
    expect(recorded?.call).toEqual({ policy: DEFAULT_CALL_POLICY, taskToken: 'token-1' });
    expect(recorded?.counters).toMatchObject({ total: 2, accepted: 1 });
  });

  it('stores many legs, each once', async () => {
    await newCall('many', 0);
    const legs = Array.from({ length: 120 }, (_, i) => ({
      legId: `x${i}`,
      member: `sip:x${i}@primary.example` as const,
      system: 'primary.example',
      required: i < 3,
    }));
    expect(await store.addLegs('many', legs)).toBe(120);
    expect(await store.addLegs('many', legs)).toBe(0);
    expect(await store.listLegs('many')).toHaveLength(120);
    expect((await store.getCall('many'))?.counters).toMatchObject({ total: 120, required: 3 });
  });

  it('releases an established call once; a call still setting up or cancelled is not released', async () => {
    await newCall('rel', 1);
    expect(await store.markReleased('rel')).toBe(false);
    await store.setStatus('rel', 'established');
    const attempts = await Promise.all(Array.from({ length: 5 }, () => store.markReleased('rel')));
    expect(attempts.filter(Boolean)).toHaveLength(1);
    expect((await store.getCall('rel'))?.status).toBe('released');
    expect(await store.markReleased('no-such-call')).toBe(false);
  });

  /** The sort keys of the requests the store sends while `run` runs, with each command's name. */
  const requestsDuring = async (run: () => Promise<unknown>): Promise<string[]> => {
    const doc = (
      store as unknown as {
        doc: {
          send: (c: {
            constructor: { name: string };
            input: { Key?: { sk?: string }; Item?: { sk?: string } };
          }) => unknown;
        };
      }
    ).doc;
    const sent: string[] = [];
    const original = doc.send.bind(doc);
    doc.send = (c) => {
      const sk = c.input.Key?.sk ?? c.input.Item?.sk ?? '';
      sent.push(`${c.constructor.name.replace('Command', '')} ${sk}`.trim());
      return original(c);
    };
    try {
      await run();
    } finally {
      doc.send = original;
    }
    return sent;
  };

  it('records a batch of answers with one update of the call item', async () => {
    await newCall('batch', 10, [2]);
    const answers = Array.from({ length: 10 }, (_, i) => ({
      legId: `m${i}`,
      state: i === 9 ? ('declined' as const) : ('accepted' as const),
      status: i === 9 ? 486 : 200,
    }));
    let out: Awaited<ReturnType<CallStore['recordResponses']>> | undefined;
    const sent = await requestsDuring(async () => {
      out = await store.recordResponses('batch', [...answers, answers[0] as (typeof answers)[0]]);
    });
    expect(sent).toEqual(['Update META']);
    expect(out?.counted).toHaveLength(10);
    expect(out?.counted.find((c) => c.legId === 'm2')?.required).toBe(true);
    expect(out?.counters).toMatchObject({ total: 10, accepted: 9, lost: 1, requiredAccepted: 1 });
    // The same batch again: one update, nothing counted, the counters unchanged.
    const again = await store.recordResponses('batch', answers);
    expect(again.counted).toEqual([]);
    expect(again.counters).toEqual(out?.counters);
  });

  it('keeps the first answer of a leg; a later, different answer changes nothing', async () => {
    await newCall('first', 2);
    await store.recordResponse('first', 'm0', { state: 'accepted', status: 200 });
    expect(
      await store.recordResponse('first', 'm0', { state: 'declined', status: 603, reason: 'Decline' }),
    ).toBe(undefined);
    const legs = await store.listLegs('first');
    expect(legs.find((l) => l.legId === 'm0')).toMatchObject({ state: 'accepted', status: 200 });
    expect(legs.find((l) => l.legId === 'm1')).toMatchObject({ state: 'pending' });
    expect((await store.getCall('first'))?.counters).toMatchObject({ accepted: 1, lost: 0 });
  });

  it('splits a large batch into updates of at most ANSWERS_PER_UPDATE answers, all counted', async () => {
    await newCall('large', 250, [0, 249]);
    const answers = Array.from({ length: 250 }, (_, i) => ({
      legId: `m${i}`,
      state: 'accepted' as const,
      status: 200,
    }));
    let out: Awaited<ReturnType<CallStore['recordResponses']>> | undefined;
    const sent = await requestsDuring(async () => {
      out = await store.recordResponses('large', answers);
    });
    expect(sent).toHaveLength(Math.ceil(250 / ANSWERS_PER_UPDATE));
    expect(out?.counted).toHaveLength(250);
    expect(out?.counters).toEqual({
      total: 250,
      required: 2,
      accepted: 250,
      requiredAccepted: 2,
      lost: 0,
      requiredLost: 0,
    });
  });

  it('counts the known legs of a batch that also names a leg the call does not have', async () => {
    await newCall('mixed', 3);
    const out = await store.recordResponses('mixed', [
      { legId: 'm0', state: 'accepted', status: 200 },
      { legId: 'intruder', state: 'accepted', status: 200 },
      { legId: 'm2', state: 'failed', status: 500 },
    ]);
    expect(out.counted.map((c) => c.legId)).toEqual(['m0', 'm2']);
    expect(out.counters).toMatchObject({ total: 3, accepted: 1, lost: 1 });
    const legs = await store.listLegs('mixed');
    expect(legs.map((l) => l.legId).sort()).toEqual(['m0', 'm1', 'm2']);
  });

  it('writes the legs in sheets: a retried InviteMembers after a crash before the call item listed them', async () => {
    await newCall('sheets', 0);
    const legs = Array.from({ length: 250 }, (_, i) => ({
      legId: `s${i}`,
      member: `sip:s${i}@primary.example` as const,
      system: 'primary.example',
      required: i === 7,
    }));
    const sent = await requestsDuring(() => store.addLegs('sheets', legs));
    expect(sent.filter((r) => r.startsWith('Put LEGS#'))).toHaveLength(3);
    expect(sent.filter((r) => r === 'Update META')).toHaveLength(1);
    // A call whose sheets exist but whose call item has no legs yet (the crash): the retry lists them.
    await newCall('crash', 0);
    const doc = (store as unknown as { doc: { send: (c: unknown) => Promise<unknown> } }).doc;
    const original = doc.send.bind(doc);
    doc.send = (c) =>
      (c as { input: { Key?: { sk?: string } } }).input.Key?.sk === 'META'
        ? Promise.reject(new Error('crash'))
        : original(c);
    await expect(store.addLegs('crash', legs)).rejects.toThrow('crash');
    doc.send = original;
    expect(await store.listLegs('crash')).toEqual([]);
    expect(await store.addLegs('crash', legs)).toBe(0);
    const listed = await store.listLegs('crash');
    expect(listed).toHaveLength(250);
    expect(listed.filter((l) => l.required).map((l) => l.legId)).toEqual(['s7']);
    expect((await store.getCall('crash'))?.counters).toMatchObject({ total: 250, required: 1 });
  });

  it('reads a call and its legs in one query', async () => {
    await newCall('read', 3, [1]);
    await store.recordResponse('read', 'm1', { state: 'declined', status: 486, reason: 'Busy Here' });
    let read: Awaited<ReturnType<CallStore['readCall']>> | undefined;
    const sent = await requestsDuring(async () => {
      read = await store.readCall('read');
    });
    expect(sent).toEqual(['Query']);
    expect(read?.call?.counters).toMatchObject({ total: 3, required: 1, lost: 1, requiredLost: 1 });
    expect(read?.legs.find((l) => l.legId === 'm1')).toMatchObject({
      state: 'declined',
      status: 486,
      reason: 'Busy Here',
      required: true,
      member: 'sip:m1@primary.example',
      system: 'primary.example',
    });
    expect(await store.readCall('no-such-call')).toEqual({ call: undefined, legs: [] });
  });

  it('ignores a response for an unknown leg', async () => {
    await newCall('unknown', 1);
    expect(await store.recordResponse('unknown', 'nobody', { state: 'accepted' })).toBeUndefined();
  });
});
