// functions/member-response/handler.ts — POST /edge/leg-results: the edge's report of an invited member's final answer.
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';
import { LegReport, recordMemberResponse } from '../workflow/member-response.ts';

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'POST /edge/leg-results': async ({ body, deps }) => {
        const report = body(LegReport);
        const { calls, workflow } = deps;
        if (!calls || !workflow) throw new Error('call store or workflow client not configured');
        return { status: 200, body: await recordMemberResponse(report, { calls, workflow }) };
      },
    },
    deps,
  );

export const handler = buildHandler();
