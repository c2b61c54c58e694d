// functions/partner-api/handler.ts — the partner API: signed requests from partner systems.
import { normalizeSipUri } from '#core/ids.ts';
import { AcceptRegroupRequest, InterrogationRequest } from '#core/partner-protocol.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';
import { addLogContext } from '../shared/logger.ts';
import { authenticatePartner as authenticate } from '../shared/partner-auth.ts';
import { acceptRegroup, confirmRegroup, releaseRegroup } from './accept-regroup.ts';
import { interrogateGroups } from './interrogate-groups.ts';

/** The partner's agreement; every later log line of the request names the partner. */
const authenticatePartner = async (ctx: Parameters<typeof authenticate>[0]) => {
  const agreement = await authenticate(ctx);
  addLogContext({ partner: agreement.partner });
  return agreement;
};

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'POST /partner/v1/regroups': async (ctx) => {
        const agreement = await authenticatePartner(ctx);
        const request = ctx.body(AcceptRegroupRequest);
        addLogContext({ tgi: request.tgi });
        return { status: 200, body: await acceptRegroup(request, agreement, ctx.deps) };
      },
      'POST /partner/v1/regroups/{tgi}/confirm': async (ctx) => {
        const agreement = await authenticatePartner(ctx);
        const tgi = normalizeSipUri(ctx.param('tgi'));
        addLogContext({ tgi });
        return { status: 200, body: await confirmRegroup(tgi, agreement, ctx.deps) };
      },
      'POST /partner/v1/interrogations': async (ctx) => {
        const agreement = await authenticatePartner(ctx);
        const request = ctx.body(InterrogationRequest);
        addLogContext({ callId: request.callId, tgi: request.tgi });
        return { status: 200, body: await interrogateGroups(request, agreement, ctx.deps) };
      },
      'DELETE /partner/v1/regroups/{tgi}': async (ctx) => {
        const agreement = await authenticatePartner(ctx);
        const tgi = normalizeSipUri(ctx.param('tgi'));
        addLogContext({ tgi });
        return { status: 200, body: await releaseRegroup(tgi, agreement, ctx.deps) };
      },
    },
    deps,
  );

export const handler = buildHandler();
