/**
 * From raw measurements to figures: snapshot differences, the per-step breakdown of each call
 * setup (the caller's timestamps joined with the workflow execution's state times by SIP Call-ID),
 * and the operations per call the cost model multiplies.
 */
import type { CallRecord } from './caller.ts';
import { type Distribution, distribution } from './common.ts';
import type { CallOperations } from './cost.ts';
import type { ExecutionTrace, ServerSnapshot } from './server.ts';

/** `b − a` for every number of a nested record (keys missing in `a` count from 0); other values from `b`. */
export const diff = <T>(a: T | undefined, b: T): T => {
  if (typeof b === 'number') return (b - (typeof a === 'number' ? a : 0)) as T;
  if (Array.isArray(b) || b === null || typeof b !== 'object') return b;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    out[k] = diff((a as Record<string, unknown> | undefined)?.[k], v);
  }
  return out as T;
};

/** The segments of one call setup, in order; their sum is the caller's INVITE → final time. */
export const SEGMENTS = [
  'INVITE → workflow started (edge, digest, call-routing, StartExecution)',
  'ResolveTemporaryGroup',
  'InterrogatePartners (SQS → interrogator → partner API)',
  'ApplyCommencementPolicy',
  'AwaitResponses: InviteMembers (legs, token, INVITEs to the edge)',
  'AwaitResponses: members invited and answered → decision',
  'CompleteCallSetup → final response at the caller',
  'state transitions (gaps, Choice/Pass states)',
] as const;
export type Segment = (typeof SEGMENTS)[number];

export interface Breakdown {
  /** Calls whose workflow execution was found (successful or not). */
  calls: number;
  /** Of which successful. */
  okCalls: number;
  segments: { name: Segment; ms: Distribution; share: number }[];
  /** INVITE → final minus the sum of the segments (clock differences between processes). */
  unaccountedMeanMs: number;
  slowest: { name: Segment; meanMs: number; share: number } | undefined;
  /** Interrogator invocations and their durations (InterrogatePartner iterations, an upper bound). */
  interrogations: { count: number; billedMs: number };
}

export const breakdown = (records: CallRecord[], traces: ExecutionTrace[]): Breakdown => {
  const bySip = new Map(traces.filter((t) => t.sipCallId).map((t) => [t.sipCallId as string, t]));
  const values = new Map<Segment, number[]>(SEGMENTS.map((s) => [s, []]));
  const totals: number[] = [];
  const sums: number[] = [];
  let interrogations = 0;
  let interrogationMs = 0;
  for (const t of traces) {
    for (const s of t.states) {
      if (s.name !== 'InterrogatePartner' || s.exited === undefined) continue;
      interrogations++;
      interrogationMs += Math.max(1, Math.ceil(s.exited - s.entered));
    }
  }
  let okCalls = 0;
  for (const r of records) {
    const t = bySip.get(r.sipCallId);
    if (!t || r.finalMs === undefined) continue;
    const finalAt = r.sentAt + r.finalMs;
    // Each segment is clipped to the caller's final response: a call answered by the edge's own
    // timeout (408) while the workflow still runs counts up to that answer only.
    const clip = (a: number | undefined, b: number | undefined): number =>
      a === undefined ? 0 : Math.max(0, Math.min(b ?? finalAt, finalAt) - Math.min(a, finalAt));
    const top = t.states.filter((s) => s.index === undefined);
    const state = (name: string) => top.find((s) => s.name === name);
    const span = (name: string) => clip(state(name)?.entered, state(name)?.exited);
    const first = top[0];
    const complete = state('CompleteCallSetup');
    const awaitState = state('AwaitResponses');
    const invoke = t.lambdas.find((l) => l.state === 'AwaitResponses');
    const seg: Record<Segment, number> = {
      // Up to the first state: the edge, the call-routing function and StartExecution.
      'INVITE → workflow started (edge, digest, call-routing, StartExecution)': clip(
        r.sentAt,
        first?.entered,
      ),
      ResolveTemporaryGroup: span('ResolveTemporaryGroup'),
      'InterrogatePartners (SQS → interrogator → partner API)': span('InterrogatePartners'),
      ApplyCommencementPolicy: span('ApplyCommencementPolicy'),
      // The Lambda may outlive its state (TNG1 expired while it was still inviting): count it while the state runs.
      'AwaitResponses: InviteMembers (legs, token, INVITEs to the edge)': clip(
        invoke?.invoked,
        Math.min(
          invoke?.returned ?? Number.POSITIVE_INFINITY,
          awaitState?.exited ?? Number.POSITIVE_INFINITY,
        ),
      ),
      'AwaitResponses: members invited and answered → decision': clip(invoke?.returned, awaitState?.exited),
      'CompleteCallSetup → final response at the caller': clip(complete?.entered, finalAt),
      'state transitions (gaps, Choice/Pass states)': 0,
    };
    // From the first state to CompleteCallSetup (or the final response), what no state above covers.
    const covered =
      seg.ResolveTemporaryGroup +
      seg['InterrogatePartners (SQS → interrogator → partner API)'] +
      seg.ApplyCommencementPolicy +
      seg['AwaitResponses: InviteMembers (legs, token, INVITEs to the edge)'] +
      seg['AwaitResponses: members invited and answered → decision'];
    seg['state transitions (gaps, Choice/Pass states)'] = first
      ? Math.max(0, clip(first.entered, complete?.entered) - covered)
      : 0;
    for (const s of SEGMENTS) values.get(s)?.push(seg[s]);
    totals.push(r.finalMs);
    sums.push(SEGMENTS.reduce((a, s) => a + seg[s], 0));
    if (r.ok) okCalls++;
  }
  const meanTotal = totals.length ? totals.reduce((a, b) => a + b, 0) / totals.length : Number.NaN;
  const segments = SEGMENTS.map((name) => {
    const ms = distribution(values.get(name) ?? []);
    return { name, ms, share: ms.mean / meanTotal };
  });
  const slowest = [...segments]
    .filter((s) => Number.isFinite(s.ms.mean))
    .sort((a, b) => b.ms.mean - a.ms.mean)[0];
  return {
    calls: totals.length,
    okCalls,
    segments,
    unaccountedMeanMs: totals.length ? meanTotal - sums.reduce((a, b) => a + b, 0) / sums.length : Number.NaN,
    slowest: slowest ? { name: slowest.name, meanMs: slowest.ms.mean, share: slowest.share } : undefined,
    interrogations: { count: interrogations, billedMs: interrogationMs },
  };
};

export interface RouteFigures {
  system: string;
  route: string;
  fn: string;
  perCall: number;
  meanMs: number;
}

export interface StepOperations {
  /** Per successful call. */
  perCall: CallOperations;
  routes: RouteFigures[];
  dynamoByOp: { system: string; op: string; perCall: number; rruPerCall: number; wruPerCall: number }[];
  sqsByOp: Record<string, number>;
  sfnApiByOp: Record<string, number>;
  controlByRoute: { system: string; route: string; perCall: number; meanMs: number }[];
  workflowLambdas: { system: string; state: string; perCall: number; meanMs: number }[];
}

/** Operations per successful call from the difference of two snapshots. */
export const operations = (
  d: ServerSnapshot,
  calls: number,
  interrogations: Breakdown['interrogations'],
): StepOperations => {
  const per = (x: number) => (calls > 0 ? x / calls : Number.NaN);
  const routes: RouteFigures[] = [];
  let apiRequests = 0;
  let billed = 0;
  for (const [system, byRoute] of Object.entries(d.api)) {
    for (const [route, c] of Object.entries(byRoute)) {
      if (c.count <= 0) continue;
      apiRequests += c.count;
      billed += c.billedMs;
      routes.push({ system, route, fn: c.fn, perCall: per(c.count), meanMs: c.ms / c.count });
    }
  }
  const workflowLambdas: StepOperations['workflowLambdas'] = [];
  let workflowInvocations = 0;
  for (const [system, byState] of Object.entries(d.workflowLambdas)) {
    for (const [state, c] of Object.entries(byState)) {
      if (c.count <= 0) continue;
      workflowInvocations += c.count;
      billed += c.billedMs;
      workflowLambdas.push({ system, state, perCall: per(c.count), meanMs: c.ms / c.count });
    }
  }
  const dynamoByOp: StepOperations['dynamoByOp'] = [];
  let dynamoRequests = 0;
  let rru = 0;
  let wru = 0;
  for (const [system, byOp] of Object.entries(d.dynamo)) {
    for (const [op, c] of Object.entries(byOp)) {
      if (c.requests <= 0) continue;
      dynamoRequests += c.requests;
      rru += c.readUnits;
      wru += c.writeUnits;
      dynamoByOp.push({
        system,
        op,
        perCall: per(c.requests),
        rruPerCall: per(c.readUnits),
        wruPerCall: per(c.writeUnits),
      });
    }
  }
  const controlByRoute: StepOperations['controlByRoute'] = [];
  for (const [system, byRoute] of Object.entries(d.control)) {
    for (const [route, c] of Object.entries(byRoute)) {
      if (c.count > 0) controlByRoute.push({ system, route, perCall: per(c.count), meanMs: c.ms / c.count });
    }
  }
  const sqsRequests = Object.values(d.sqs).reduce((a, b) => a + b, 0);
  const transitions = Object.values(d.stateTransitions).reduce((a, b) => a + b, 0);
  const perOp = (o: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(o)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => [k, per(v)]),
    );
  return {
    perCall: {
      lambdaInvocations: per(apiRequests + workflowInvocations + interrogations.count),
      lambdaBilledMs: per(billed + interrogations.billedMs),
      stateTransitions: per(transitions),
      sqsRequests: per(sqsRequests),
      dynamoRequests: per(dynamoRequests),
      readUnits: per(rru),
      writeUnits: per(wru),
      apiRequests: per(apiRequests),
    },
    routes: routes.sort((a, b) => b.perCall * b.meanMs - a.perCall * a.meanMs),
    dynamoByOp: dynamoByOp.sort((a, b) => b.perCall - a.perCall),
    sqsByOp: perOp(d.sqs),
    sfnApiByOp: perOp(d.sfnApi),
    controlByRoute,
    workflowLambdas,
  };
};
