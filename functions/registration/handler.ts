// functions/registration/handler.ts — registrations (RFC 3261 §10) and digest credentials, for the SIP edge.
import { z } from 'zod';
import { digestUsername } from '#core/digest-credentials.ts';
import { badRequest, notFound } from '#core/errors.ts';
import { normalizeSipUri } from '#core/ids.ts';
import type { Registration } from '#core/model.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';

/** Longest binding we keep; the edge negotiates Expires/Min-Expires with the client (RFC 3261 §10.2.8). */
export const MAX_REGISTRATION_SECONDS = 86_400;

const Bind = z.strictObject({
  mcpttId: z.string().min(1).max(256),
  /** A Contact URI, or `*` with expires 0 to remove every binding (RFC 3261 §10.2.2). */
  contact: z.string().min(1).max(1024),
  expires: z.number().int().min(0).max(MAX_REGISTRATION_SECONDS),
  clientId: z.string().min(1).max(256).optional(),
});

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'POST /edge/registrations': async ({ body, deps }) => {
        const input = body(Bind);
        const mcpttId = normalizeSipUri(input.mcpttId, deps.system);
        if (!(await deps.store.getUser(mcpttId))) throw notFound(`no user ${mcpttId}`);
        const now = deps.now();
        if (input.contact === '*') {
          if (input.expires !== 0)
            throw badRequest('contact * is only allowed with expires 0 (RFC 3261 §10.2.2)');
          // One after the other: the bindings share one item, written under optimistic locking.
          for (const r of await deps.store.listRegistrations(mcpttId, now)) {
            await deps.store.deleteRegistration(mcpttId, r.contact, now);
          }
        } else if (input.expires === 0) {
          await deps.store.deleteRegistration(mcpttId, input.contact, now);
        } else {
          const reg: Registration = {
            mcpttId,
            contact: input.contact,
            expiresAt: now + input.expires * 1000,
            ...(input.clientId ? { clientId: input.clientId } : {}),
          };
          await deps.store.putRegistration(reg, now);
        }
        return { status: 200, body: { mcpttId, bindings: await deps.store.listRegistrations(mcpttId, now) } };
      },
      'GET /edge/registrations/{mcpttId}': async ({ param, deps }) => {
        const mcpttId = normalizeSipUri(param('mcpttId'), deps.system);
        return {
          status: 200,
          body: { mcpttId, bindings: await deps.store.listRegistrations(mcpttId, deps.now()) },
        };
      },
      'GET /edge/credentials/{mcpttId}': async ({ param, deps }) => {
        const mcpttId = normalizeSipUri(param('mcpttId'), deps.system);
        const stored = await deps.store.getUser(mcpttId);
        if (!stored) throw notFound(`no user ${mcpttId}`);
        const { realm, ha1Md5, ha1Sha256 } = stored.credentials;
        return {
          status: 200,
          body: { mcpttId, username: digestUsername(mcpttId), realm, ha1Md5, ha1Sha256 },
        };
      },
    },
    deps,
  );

export const handler = buildHandler();
