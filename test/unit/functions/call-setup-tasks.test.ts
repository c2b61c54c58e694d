import { describe, expect, it } from 'vitest';
import {
  type CallSetupTaskDeps,
  runCallSetupTask,
  taskDepsFrom,
} from '#functions/call-setup-tasks/handler.ts';
import { CALL_SETUP_TASKS } from '#functions/call-setup-tasks/tasks.ts';
import type { AppDeps } from '#functions/shared/deps.ts';

const POLICY = { priority: 5, acknowledgementTimeoutMs: 3000, minimumMembers: 1, actionOnExpiry: 'proceed' };

/** Deps whose I/O must not be touched by the tasks under test. */
const untouchable = (): CallSetupTaskDeps => {
  const fail = new Proxy(
    {},
    { get: (_, p) => () => Promise.reject(new Error(`unexpected call ${String(p)}`)) },
  );
  return {
    app: { system: 'primary.example', now: () => 1_000, store: fail } as unknown as AppDeps,
    calls: fail as CallSetupTaskDeps['calls'],
    edgeFor: () => fail as ReturnType<CallSetupTaskDeps['edgeFor']>,
    workflow: fail as CallSetupTaskDeps['workflow'],
    reportUrl: 'http://127.0.0.1:1/edge/leg-results',
  };
};

describe('Function: call-setup-tasks', () => {
  it('runs ApplyCommencementPolicy on the state (pure: no I/O)', async () => {
    const out = await runCallSetupTask(
      {
        task: CALL_SETUP_TASKS.applyCommencementPolicy,
        input: {
          callId: 'c1',
          policy: POLICY,
          acknowledgementTimeoutSeconds: 3,
          localMembers: [{ mcpttId: 'sip:bob@primary.example', system: 'primary.example', required: false }],
          interrogations: [],
        },
      },
      untouchable(),
    );
    expect(out).toMatchObject({ decision: 'proceed', invitees: 1, acknowledgementTimeoutSeconds: 3 });
  });

  it('rejects when nobody is affiliated', async () => {
    const out = await runCallSetupTask(
      {
        task: CALL_SETUP_TASKS.applyCommencementPolicy,
        input: { callId: 'c1', policy: POLICY, acknowledgementTimeoutSeconds: 3, localMembers: [] },
      },
      untouchable(),
    );
    expect(out).toMatchObject({ decision: 'reject', invitees: 0 });
  });

  it.each([
    ['no task', { input: {} }],
    ['an unknown task', { task: 'Nope', input: {} }],
    ['no input', { task: CALL_SETUP_TASKS.completeCallSetup }],
    ['InviteMembers without a task token', { task: CALL_SETUP_TASKS.inviteMembers, input: {} }],
    ['not an object', 'ResolveTemporaryGroup'],
  ])('fails the task on a malformed event: %s', async (_, event) => {
    await expect(runCallSetupTask(event, untouchable())).rejects.toThrow(/malformed task event/);
  });

  it('names what is missing when its deps cannot be built', () => {
    const app = { system: 'primary.example' } as unknown as AppDeps;
    expect(() => taskDepsFrom(app, 'http://x')).toThrow(/call store/);
    const withCalls = { ...app, calls: {} } as unknown as AppDeps;
    expect(() => taskDepsFrom(withCalls, 'http://x')).toThrow(/EDGE_CONTROL_URL/);
    expect(() => taskDepsFrom({ ...withCalls, edge: {} } as unknown as AppDeps, 'http://x')).toThrow(
      /EDGE_CONTROL_URL/,
    );
    const withEdge = { ...withCalls, edge: {}, edgeFor: () => ({}) } as unknown as AppDeps;
    expect(() => taskDepsFrom(withEdge, undefined)).toThrow(/API_URL/);
    expect(taskDepsFrom(withEdge, 'https://api.example/').reportUrl).toBe(
      'https://api.example/edge/leg-results',
    );
  });

  it('ResolveTemporaryGroup passes the edge task holding the call (edgeUrl) on with caller and startedAt', async () => {
    const tg = {
      tgi: 'sip:tg@primary.example',
      displayName: 'TG',
      // Only a partner constituent: no member look-ups.
      constituents: [{ groupId: 'sip:ambulance-1@partner.example', system: 'partner.example' }],
      creator: 'sip:dispatcher@primary.example',
      policy: { ...POLICY, minimumNumberToStart: 1 },
      status: 'active',
      createdAt: 1,
    };
    const deps = untouchable();
    deps.app = {
      ...deps.app,
      store: { getTemporaryGroup: async () => tg } as unknown as AppDeps['store'],
    };
    const input = { callId: 'c1', tgi: tg.tgi, caller: 'sip:alice@primary.example', startedAt: 900 };
    const withEdge = await runCallSetupTask(
      {
        task: CALL_SETUP_TASKS.resolveTemporaryGroup,
        input: { ...input, edgeUrl: 'http://10.0.1.7:8061' },
      },
      deps,
    );
    expect(withEdge).toMatchObject({ callId: 'c1', startedAt: 900, edgeUrl: 'http://10.0.1.7:8061' });
    const without = await runCallSetupTask({ task: CALL_SETUP_TASKS.resolveTemporaryGroup, input }, deps);
    expect(without).not.toHaveProperty('edgeUrl');
  });

  it("InviteMembers originates the legs at the call's edge task", async () => {
    const originatedAt: (string | undefined)[] = [];
    const deps = untouchable();
    deps.app = {
      ...deps.app,
      store: {
        registrationsOf: async (ids: readonly string[]) =>
          new Map(
            ids.map((id) => [id, [{ mcpttId: id, contact: 'sip:bob@127.0.0.1:6001', expiresAt: 5_000 }]]),
          ),
      } as unknown as AppDeps['store'],
    };
    deps.calls = {
      addLegs: async () => 1,
      setTaskToken: async () => undefined,
    } as unknown as CallSetupTaskDeps['calls'];
    deps.edgeFor = (url) => {
      originatedAt.push(url);
      return { originate: async () => ({ legs: [] }) } as unknown as ReturnType<CallSetupTaskDeps['edgeFor']>;
    };
    const out = await runCallSetupTask(
      {
        task: CALL_SETUP_TASKS.inviteMembers,
        taskToken: 'token-1',
        input: {
          callId: 'c1',
          tgi: 'sip:tg@primary.example',
          caller: 'sip:alice@primary.example',
          edgeUrl: 'http://10.0.1.7:8061',
          policy: POLICY,
          acknowledgementTimeoutSeconds: 3,
          localMembers: [
            {
              mcpttId: 'sip:bob@primary.example',
              system: 'primary.example',
              required: false,
              groupId: 'sip:fire-1@primary.example',
            },
          ],
          partners: [],
        },
      },
      deps,
    );
    expect(out).toEqual({ invited: 1, unreachable: 0 });
    expect(originatedAt).toEqual(['http://10.0.1.7:8061']);
  });
});
