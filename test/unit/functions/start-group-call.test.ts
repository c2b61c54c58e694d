import { describe, expect, it } from 'vitest';
import { DEFAULT_CALL_POLICY } from '#core/call-policy.ts';
import type { Affiliation, TemporaryGroup } from '#core/model.ts';
import { startGroupCall } from '#functions/call-routing/start-group-call.ts';

const tg: TemporaryGroup = {
  tgi: 'sip:tg@primary.example',
  displayName: 'TG',
  constituents: [
    { groupId: 'sip:fire-1@primary.example', system: 'primary.example' },
    { groupId: 'sip:ambulance-1@partner.example', system: 'partner.example' },
  ],
  creator: 'sip:dispatcher@primary.example',
  policy: DEFAULT_CALL_POLICY,
  status: 'active',
  createdAt: 1,
};

const setUp = (opts: { groups?: string[]; affiliated?: string[]; temporaryGroup?: TemporaryGroup } = {}) => {
  const claimed = new Map<string, string>();
  const executions: { name: string; input: unknown }[] = [];
  const created: unknown[] = [];
  const now = Date.now();
  const affiliations: Affiliation[] = (opts.affiliated ?? []).map((g) => ({
    mcpttId: 'sip:alice@primary.example',
    groupId: g,
    clientId: 'c',
    expiresAt: now + 60_000,
  }));
  const deps = {
    store: {
      getTemporaryGroup: async () => ('temporaryGroup' in opts ? opts.temporaryGroup : tg),
      groupsOfUser: async () => opts.groups ?? [],
      affiliationsOfUser: async () => affiliations,
    },
    calls: {
      claimSipCallId: async (sip: string, callId: string) => {
        const seen = claimed.get(sip);
        if (seen) return { callId: seen, created: false };
        claimed.set(sip, callId);
        return { callId, created: true };
      },
      createCall: async (c: unknown) => {
        created.push(c);
      },
    },
    startExecution: async (name: string, input: unknown) => {
      executions.push({ name, input });
    },
    now: () => now,
    holdTimeoutMs: 30_000,
  };
  return { deps, executions, created };
};

const call = { caller: 'sip:alice@primary.example', tgi: 'sip:tg@primary.example', sipCallId: 'abc@client' };

describe('Function: startGroupCall', () => {
  it('404 for an unknown temporary group', async () => {
    const { deps } = setUp({ temporaryGroup: undefined });
    expect(await startGroupCall(call, deps)).toMatchObject({ action: 'reject', status: 404 });
  });
  it('403 Warning 116 for a caller in no constituent group', async () => {
    const { deps } = setUp({ groups: ['sip:police-1@primary.example'] });
    expect(await startGroupCall(call, deps)).toMatchObject({
      action: 'reject',
      status: 403,
      warningCode: 116,
    });
  });
  it('403 Warning 120 for a member who is not affiliated', async () => {
    const { deps } = setUp({ groups: ['sip:fire-1@primary.example'] });
    expect(await startGroupCall(call, deps)).toMatchObject({
      action: 'reject',
      status: 403,
      warningCode: 120,
    });
  });
  it('starts one workflow and holds the INVITE; the same SIP Call-ID never starts a second call', async () => {
    const { deps, executions } = setUp({
      groups: ['sip:fire-1@primary.example'],
      affiliated: ['sip:fire-1@primary.example'],
    });
    const first = await startGroupCall(call, deps);
    expect(first).toMatchObject({ action: 'hold', timeoutMs: 30_000 });
    expect(executions).toHaveLength(1);
    expect(executions[0]?.input).toMatchObject({
      tgi: 'sip:tg@primary.example',
      caller: 'sip:alice@primary.example',
    });
    const again = await startGroupCall(call, deps);
    expect(again).toMatchObject({ action: 'reject', status: 491, warningCode: 123 });
    expect(executions).toHaveLength(1);
  });
  it('stores the edge task that holds the INVITE with the call and hands it to the workflow', async () => {
    const { deps, executions, created } = setUp({
      groups: ['sip:fire-1@primary.example'],
      affiliated: ['sip:fire-1@primary.example'],
    });
    await startGroupCall({ ...call, edgeUrl: 'http://10.0.1.7:8061' }, deps);
    expect(created[0]).toMatchObject({ edgeUrl: 'http://10.0.1.7:8061' });
    expect(executions[0]?.input).toMatchObject({ edgeUrl: 'http://10.0.1.7:8061' });
  });
  it('names no edge for a call from an edge that did not name itself (the default edge serves it)', async () => {
    const { deps, executions, created } = setUp({
      groups: ['sip:fire-1@primary.example'],
      affiliated: ['sip:fire-1@primary.example'],
    });
    await startGroupCall(call, deps);
    expect(created[0]).not.toHaveProperty('edgeUrl');
    expect(executions[0]?.input).not.toHaveProperty('edgeUrl');
  });
});
