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
    edge: fail as CallSetupTaskDeps['edge'],
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
    const withEdge = { ...withCalls, edge: {} } as unknown as AppDeps;
    expect(() => taskDepsFrom(withEdge, undefined)).toThrow(/API_URL/);
    expect(taskDepsFrom(withEdge, 'https://api.example/').reportUrl).toBe(
      'https://api.example/edge/leg-results',
    );
  });
});
