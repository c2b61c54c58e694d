// functions/affiliation/handler.ts — affiliation from the PIDF body of a SIP PUBLISH (TS 24.379 §9.2), for the edge.
import { planAffiliationUpdate } from '#core/affiliation.ts';
import { parseAffiliationPidf } from '#core/affiliation-pidf.ts';
import { badRequest, forbidden } from '#core/errors.ts';
import { domainOf, normalizeSipUri } from '#core/ids.ts';
import type { Affiliation, SipUri } from '#core/model.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';

/** Header in which the edge passes the authenticated MCPTT ID of the PUBLISH's sender. */
export const ASSERTED_IDENTITY_HEADER = 'x-mcptt-asserted-identity';

type Outcome = {
  groupId: SipUri;
  status: 'affiliated' | 'deaffiliated' | 'rejected';
  expiresAt?: number;
  reason?: string;
};

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'POST /edge/affiliations': async ({ header, rawBody, deps }) => {
        const asserted = header(ASSERTED_IDENTITY_HEADER);
        if (!asserted) throw badRequest(`${ASSERTED_IDENTITY_HEADER} header required`);
        const type = header('content-type') ?? '';
        if (!/^application\/pidf\+xml\b/i.test(type)) {
          throw badRequest(`content-type must be application/pidf+xml, got ${type || 'none'}`);
        }
        const caller = normalizeSipUri(asserted, deps.system);
        const now = deps.now();
        const doc = parseAffiliationPidf(rawBody(), { now });
        // TS 24.379 §9.2.2.2: a client publishes only its own affiliation.
        if (doc.entity !== caller)
          throw forbidden(`${caller} cannot publish the affiliation of ${doc.entity}`);

        const memberOf = new Set(await deps.store.groupsOfUser(caller));
        const outcomes: Outcome[] = [];
        const accepted: { groupId: SipUri; expiresAt: number }[] = [];
        for (const a of doc.affiliations) {
          if (a.expiresAt <= now) continue; // de-affiliation: planned below
          if (domainOf(a.groupId) !== deps.system) {
            outcomes.push({
              groupId: a.groupId,
              status: 'rejected',
              reason: `group hosted by ${domainOf(a.groupId)}`,
            });
          } else if (!memberOf.has(a.groupId)) {
            outcomes.push({
              groupId: a.groupId,
              status: 'rejected',
              reason: 'user is not part of the MCPTT group',
            });
          } else {
            accepted.push(a);
          }
        }
        const current = await deps.store.affiliationsOfUser(caller);
        const plan = planAffiliationUpdate(
          current,
          { mcpttId: caller, clientId: doc.clientId, affiliations: accepted },
          now,
        );
        await Promise.all([
          ...plan.upsert.map((a) => deps.store.putAffiliation(a)),
          ...plan.remove.map((a) => deps.store.deleteAffiliation(a)),
        ]);
        for (const a of plan.upsert)
          outcomes.push({ groupId: a.groupId, status: 'affiliated', expiresAt: a.expiresAt });
        for (const a of plan.remove) outcomes.push({ groupId: a.groupId, status: 'deaffiliated' });
        return { status: 200, body: { mcpttId: caller, clientId: doc.clientId, affiliations: outcomes } };
      },
      'GET /edge/affiliations/{mcpttId}': async ({ param, deps }) => {
        const mcpttId = normalizeSipUri(param('mcpttId'), deps.system);
        const now = deps.now();
        const all: Affiliation[] = await deps.store.affiliationsOfUser(mcpttId);
        return { status: 200, body: { mcpttId, affiliations: all.filter((a) => a.expiresAt > now) } };
      },
    },
    deps,
  );

export const handler = buildHandler();
