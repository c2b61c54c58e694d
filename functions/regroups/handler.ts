// functions/regroups/handler.ts — group regroup: create, list, read and cancel temporary groups.
import { z } from 'zod';
import { assertMayRegroup } from '#core/authorization.ts';
import { callPolicySchema } from '#core/call-policy.ts';
import { notFound } from '#core/errors.ts';
import { normalizeSipUri } from '#core/ids.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';
import { cancelTemporaryGroup } from './cancel-temporary-group.ts';
import { createTemporaryGroup } from './create-temporary-group.ts';

const CreateRegroup = z.strictObject({
  constituents: z
    .array(z.string().min(1).max(256))
    .min(2, 'a regroup needs at least 2 constituent groups')
    .max(50),
  name: z.string().min(1).max(63).optional(),
  displayName: z.string().min(1).max(128).optional(),
  policy: callPolicySchema.optional(),
});

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'POST /regroups': async ({ principal, body, deps }) => {
        const caller = await principal();
        assertMayRegroup(caller);
        const tg = await createTemporaryGroup(body(CreateRegroup), caller, deps);
        return { status: 201, body: tg, headers: { location: `/regroups/${encodeURIComponent(tg.tgi)}` } };
      },
      'GET /regroups': async ({ principal, deps }) => {
        assertMayRegroup(await principal());
        const all = await deps.store.listTemporaryGroups(deps.now());
        return { status: 200, body: { temporaryGroups: all.filter((t) => t.status !== 'pending') } };
      },
      'GET /regroups/{tgi}': async ({ principal, param, deps }) => {
        assertMayRegroup(await principal());
        const tgi = normalizeSipUri(param('tgi'), deps.system);
        const tg = await deps.store.getTemporaryGroup(tgi, deps.now());
        if (!tg || tg.status === 'pending') throw notFound(`no temporary group ${tgi}`);
        return { status: 200, body: tg };
      },
      'DELETE /regroups/{tgi}': async ({ principal, param, deps }) => {
        const caller = await principal();
        assertMayRegroup(caller);
        const tgi = normalizeSipUri(param('tgi'), deps.system);
        return { status: 200, body: await cancelTemporaryGroup(tgi, caller, deps) };
      },
    },
    deps,
  );

export const handler = buildHandler();
