/**
 * cancel-group-call and release-group-call end the member legs at the edge task that holds them: the
 * call record's `edgeUrl`, or the system's default edge for a call that names none.
 */

import { describe, expect, it } from 'vitest';
import type { CallRecord, LegRecord } from '#adapters/dynamo/call-store.ts';
import type { LegEnding } from '#adapters/edge-control-client.ts';
import { cancelGroupCall } from '#functions/call-routing/cancel-group-call.ts';
import { releaseGroupCall } from '#functions/call-routing/release-group-call.ts';

const leg = (legId: string, state: LegRecord['state']): LegRecord => ({
  callId: 'c-1',
  legId,
  member: `sip:${legId}@primary.example`,
  system: 'primary.example',
  required: false,
  state,
});

const callRecord = (edgeUrl?: string): CallRecord => ({
  callId: 'c-1',
  sipCallId: 'c-1@sip',
  tgi: 'sip:tg@primary.example',
  caller: 'sip:alice@primary.example',
  createdAt: 1,
  status: 'established',
  ...(edgeUrl ? { edgeUrl } : {}),
  counters: { total: 0, required: 0, accepted: 0, requiredAccepted: 0, lost: 0, requiredLost: 0 },
});

/** An edge factory recording each operation with the edge it went to (`default`: no URL). */
const edges = () => {
  const ops: string[] = [];
  const edgeFor = (url?: string) => {
    const at = url ?? 'default';
    return {
      endLegs: async (_: string, legs: readonly LegEnding[]) => {
        for (const l of legs) ops.push(`${l.action} ${l.legId}@${at}`);
        return { legs: legs.map((l) => ({ ...l, found: true, done: true })) };
      },
    };
  };
  return { ops, edgeFor };
};

const LEGS = [leg('bob', 'pending'), leg('carol', 'accepted'), leg('dave', 'declined')];

describe('Function: cancel-group-call', () => {
  const cancelWith = (record: CallRecord | undefined, legs = LEGS) => {
    const e = edges();
    const run = cancelGroupCall('c-1', {
      calls: {
        claimDecision: async () => true,
        setStatus: async () => undefined,
        readCall: async () => ({ call: record, legs }),
      },
      workflow: { stopExecution: async () => undefined },
      stateMachineArn: 'arn:aws:states:local:0:stateMachine:m',
      edgeFor: e.edgeFor,
    });
    return { run, ops: e.ops };
  };

  it("cancels the ringing legs and ends the answered ones at the call's edge task", async () => {
    const { run, ops } = cancelWith(callRecord('http://10.0.1.7:8061'));
    expect(await run).toEqual({ cancelled: true });
    expect(ops.sort()).toEqual(['bye carol@http://10.0.1.7:8061', 'cancel bob@http://10.0.1.7:8061']);
  });

  it('uses the default edge for a call that names no edge task', async () => {
    const { run, ops } = cancelWith(callRecord());
    await run;
    expect(ops.sort()).toEqual(['bye carol@default', 'cancel bob@default']);
  });

  it('ends nothing when no leg is left to end', async () => {
    const e = edges();
    await cancelGroupCall('c-1', {
      calls: {
        claimDecision: async () => true,
        setStatus: async () => undefined,
        readCall: async () => ({ call: callRecord(), legs: [leg('dave', 'declined')] }),
      },
      workflow: { stopExecution: async () => undefined },
      stateMachineArn: 'arn:aws:states:local:0:stateMachine:m',
      edgeFor: e.edgeFor,
    });
    expect(e.ops).toEqual([]);
  });
});

describe('Function: release-group-call', () => {
  const releaseWith = (record: CallRecord | undefined) => {
    const e = edges();
    const run = releaseGroupCall('c-1', {
      calls: {
        markReleased: async () => true,
        readCall: async () => ({ call: record, legs: LEGS }),
      },
      edgeFor: e.edgeFor,
    });
    return { run, ops: e.ops };
  };

  it("BYE to the answered legs and CANCEL to the ringing ones at the call's edge task", async () => {
    const { run, ops } = releaseWith(callRecord('http://10.0.2.9:8061'));
    expect(await run).toEqual({ released: true, byes: 1, cancels: 1 });
    expect(ops.sort()).toEqual(['bye carol@http://10.0.2.9:8061', 'cancel bob@http://10.0.2.9:8061']);
  });

  it('uses the default edge for a call that names no edge task (or whose record is gone)', async () => {
    const { run, ops } = releaseWith(undefined);
    await run;
    expect(ops.sort()).toEqual(['bye carol@default', 'cancel bob@default']);
  });
});
