// functions/call-routing/handler.ts — POST /edge/calls: where an INVITE that reached the edge goes.
import { z } from 'zod';
import { edgeControlBaseUrl, MAX_EDGE_URL_LENGTH } from '#adapters/edge-control-client.ts';
import { domainOf, tryNormalizeSipUri } from '#core/ids.ts';
import type { SipUri } from '#core/model.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';
import { addLogContext, withLogContext } from '../shared/logger.ts';
import { authorizePartnerLeg, authorizePartnerLegs, type PartnerLeg } from './authorize-partner-leg.ts';
import { callableGroup } from './callable-group.ts';
import { cancelGroupCall } from './cancel-group-call.ts';
import { releaseGroupCall } from './release-group-call.ts';
import { type CallRoute, routeCall } from './route-call.ts';
import { startGroupCall } from './start-group-call.ts';

const CallRequest = z.strictObject({
  /** The authenticated caller (digest), or the From URI of a partner leg. */
  caller: z.string().min(1).max(256),
  /** A leg invited by a partner system: its signature header fields (lower-case names) and TGI. */
  partnerLeg: z
    .strictObject({
      headers: z.record(z.string().regex(/^x-mcptt-[a-z-]+$/), z.string().max(512)),
      tgi: z.string().min(1).max(256),
    })
    .optional(),
  /** The Request-URI of the INVITE. */
  target: z.string().min(1).max(1024),
  callId: z.string().min(1).max(512),
  /**
   * The control API of the edge task that holds this INVITE (`http://<task IP>:8061`): a group call's
   * later edge operations go there. Only the edge may call this route (IAM in AWS, the edge token
   * locally), so it is trusted as the edge is; its shape is still checked, and it is kept normalized.
   */
  edgeUrl: z
    .string()
    .max(MAX_EDGE_URL_LENGTH)
    .transform((raw, ctx) => {
      const url = edgeControlBaseUrl(raw);
      if (url === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'edgeUrl must be an http(s) URL of a host and port, with no path, query or credentials',
        });
        return z.NEVER;
      }
      return url;
    })
    .optional(),
});

/** The store reads the group call start needs. */
const storeView = (deps: AppDeps) => ({
  groupsOfUser: (id: string) => deps.store.groupsOfUser(id),
  affiliationsOfUser: (id: string) => deps.store.affiliationsOfUser(id),
});

type CallInput = z.infer<typeof CallRequest>;

/**
 * What is known of an INVITE before anything is read: its route already (a malformed or foreign
 * target), a leg a partner invited, or a call to route; with the fields to log it by.
 */
type Classified = { log: Record<string, unknown> } & (
  | { route: CallRoute }
  | { partnerLeg: PartnerLeg }
  | { caller: SipUri; target: SipUri }
);

const classify = (input: CallInput, deps: AppDeps): Classified => {
  const target = tryNormalizeSipUri(input.target);
  const caller = tryNormalizeSipUri(input.caller, deps.system);
  const log = { sipCallId: input.callId, target: target ?? input.target, caller: caller ?? input.caller };
  if (!target || !caller) {
    return { log, route: { action: 'reject', status: 404, reason: 'Not Found' } };
  }
  if (domainOf(target) !== deps.system) {
    return {
      log,
      route: { action: 'reject', status: 404, reason: 'Not Found', warning: `not served by ${deps.system}` },
    };
  }
  if (input.partnerLeg) {
    return {
      log: { ...log, tgi: input.partnerLeg.tgi, partner: domainOf(caller) },
      partnerLeg: { target, ...input.partnerLeg },
    };
  }
  return { log, caller, target };
};

/** Where one INVITE goes: a partner leg, a group call, or a user (functions/call-routing). */
const routeOne = async (input: CallInput, deps: AppDeps): Promise<unknown> => {
  const classified = classify(input, deps);
  addLogContext(classified.log);
  if ('route' in classified) return classified.route;
  if ('partnerLeg' in classified) return authorizePartnerLeg(classified.partnerLeg, deps);
  return routeToUs(input, classified, deps);
};

/** An INVITE to one of our groups or users. */
const routeToUs = async (
  input: CallInput,
  { caller, target }: { caller: SipUri; target: SipUri },
  deps: AppDeps,
): Promise<unknown> => {
  // A call to one of our temporary groups starts the call setup workflow (TS 23.379).
  if (
    deps.callSetup &&
    deps.calls &&
    deps.workflow &&
    (await callableGroup(deps.store, target, deps.now()))
  ) {
    const { workflow, calls, callSetup } = deps;
    addLogContext({ tgi: target });
    const route = await startGroupCall(
      {
        caller,
        tgi: target,
        sipCallId: input.callId,
        ...(input.edgeUrl ? { edgeUrl: input.edgeUrl } : {}),
      },
      {
        store: {
          ...storeView(deps),
          getTemporaryGroup: (tgi, now) => callableGroup(deps.store, tgi, now),
        },
        calls,
        startExecution: (name, execInput) =>
          workflow.startExecution(callSetup.stateMachineArn, name, execInput),
        now: deps.now,
        holdTimeoutMs: callSetup.holdTimeoutMs,
        metrics: deps.metrics,
      },
    );
    if (route.action === 'hold') addLogContext({ callId: route.heldId });
    return route;
  }
  return routeCall({ caller, target }, deps);
};

/** The log fields all of `logs` share (a batch of one call's legs: its TGI and partner). */
const commonFields = (logs: readonly Record<string, unknown>[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(logs[0] ?? {}).filter(([k, v]) => logs.every((l) => l[k] === v)));

/** Whether a request body is a batch (`{ "calls": … }`); its validation names the fields either way. */
const isBatch = (raw: string): boolean => {
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && 'calls' in parsed;
  } catch {
    return false;
  }
};

/** The INVITEs an edge received in the same turn, asked about together (edge/functions-client.ts). */
const CallBatch = z.strictObject({ calls: z.array(CallRequest).min(1).max(100) });

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'POST /edge/calls/cancel': async ({ body, deps }) => {
        const { callId } = body(z.strictObject({ callId: z.string().min(1).max(256) }));
        addLogContext({ callId });
        if (!deps.calls || !deps.workflow || !deps.callSetup)
          return { status: 200, body: { cancelled: false } };
        return {
          status: 200,
          body: await cancelGroupCall(callId, {
            calls: deps.calls,
            workflow: deps.workflow,
            stateMachineArn: deps.callSetup.stateMachineArn,
            edgeFor: (url) => deps.edgeFor?.(url) ?? deps.edge,
            metrics: deps.metrics,
          }),
        };
      },
      'POST /edge/calls/release': async ({ body, deps }) => {
        const { callId } = body(z.strictObject({ callId: z.string().min(1).max(256) }));
        addLogContext({ callId });
        if (!deps.calls) return { status: 200, body: { released: false, byes: 0, cancels: 0 } };
        return {
          status: 200,
          body: await releaseGroupCall(callId, {
            calls: deps.calls,
            edgeFor: (url) => deps.edgeFor?.(url) ?? deps.edge,
          }),
        };
      },
      'POST /edge/calls': async ({ body, rawBody, deps }) => {
        if (!isBatch(rawBody())) return { status: 200, body: await routeOne(body(CallRequest), deps) };
        const input = body(CallBatch);
        // The INVITEs the edge received together, all at once: the legs partners invited (a group
        // call's legs at a partner) authorized together, one read of each call's pass and one write of
        // its nonces; any other INVITE in its own log context, as if alone.
        const classified = input.calls.map((c) => classify(c, deps));
        const partnerLegs = classified.flatMap((c) => ('partnerLeg' in c ? [c] : []));
        const [legRoutes, routes] = await Promise.all([
          partnerLegs.length === 0
            ? []
            : withLogContext(commonFields(partnerLegs.map((c) => c.log)), () =>
                authorizePartnerLegs(
                  partnerLegs.map((c) => c.partnerLeg),
                  deps,
                ),
              ),
          Promise.all(
            classified.map((c, i) =>
              'partnerLeg' in c
                ? undefined
                : withLogContext(c.log, async () =>
                    'route' in c ? c.route : routeToUs(input.calls[i] as CallInput, c, deps),
                  ),
            ),
          ),
        ]);
        const legRoute = new Map(partnerLegs.map((c, i) => [c, legRoutes[i]]));
        return {
          status: 200,
          body: { routes: classified.map((c, i) => ('partnerLeg' in c ? legRoute.get(c) : routes[i])) },
        };
      },
    },
    deps,
  );

export const handler = buildHandler();
