// functions/member-response/handler.ts — POST /edge/leg-results: the edge's reports of invited members'
// final answers, one report or a batch `{ reports: [...] }` (edge/leg-report-batcher.ts).
import { z } from 'zod';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';
import { withLogContext } from '../shared/logger.ts';
import { LegReport, recordMemberResponse, recordMemberResponses } from '../workflow/member-response.ts';

/** Reports per request at most. */
export const MAX_REPORTS_PER_REQUEST = 100;

const LegResults = z.union([
  LegReport,
  z.strictObject({ reports: z.array(LegReport).min(1).max(MAX_REPORTS_PER_REQUEST) }),
]);

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'POST /edge/leg-results': async ({ body, deps }) => {
        const input = body(LegResults);
        const { calls, workflow, metrics } = deps;
        if (!calls || !workflow) throw new Error('call store or workflow client not configured');
        // Each report's log lines carry its call and leg.
        const record = (r: LegReport) =>
          withLogContext({ callId: r.callId, legId: r.legId }, () =>
            recordMemberResponse(r, { calls, workflow, metrics }),
          );
        if (!('reports' in input)) return { status: 200, body: await record(input) };
        // One conditional write per report, one counter update and one decision per call of the batch.
        const results = await withLogContext({ callId: input.reports[0]?.callId }, () =>
          recordMemberResponses(input.reports, { calls, workflow, metrics }),
        );
        return { status: 200, body: { results } };
      },
    },
    deps,
  );

export const handler = buildHandler();
