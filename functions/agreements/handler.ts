// functions/agreements/handler.ts — partner agreements (keys are write-only).
import type { z } from 'zod';
import { redactAgreement } from '#core/agreement.ts';
import { assertAdmin } from '#core/authorization.ts';
import { badRequest, conflict, notFound } from '#core/errors.ts';
import { normalizeDomain, normalizeSipUri } from '#core/ids.ts';
import type { PartnerAgreement, SystemDomain } from '#core/model.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';
import { AgreementInput, AgreementUpdate } from './schema.ts';

/** Builds a normalized agreement; the partner is never ourselves. */
export const toAgreement = (
  partnerInput: string,
  input: z.infer<typeof AgreementUpdate>,
  system: SystemDomain,
): PartnerAgreement => {
  const partner = normalizeDomain(partnerInput);
  if (partner === system) throw badRequest(`${system} cannot have an agreement with itself`);
  return {
    partner,
    apiUrl: input.apiUrl,
    sipUri: input.sipUri,
    keyId: input.keyId,
    key: input.key,
    sharedUserFields: [...new Set(input.sharedUserFields)],
    regroupableGroups:
      input.regroupableGroups === '*'
        ? '*'
        : [...new Set(input.regroupableGroups.map((g) => normalizeSipUri(g, system)))],
  };
};

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'GET /agreements': async ({ principal, deps }) => {
        assertAdmin(await principal());
        return {
          status: 200,
          body: { agreements: (await deps.store.listAgreements()).map(redactAgreement) },
        };
      },
      'POST /agreements': async ({ principal, body, deps }) => {
        assertAdmin(await principal());
        const input = body(AgreementInput);
        const agreement = toAgreement(input.partner, input, deps.system);
        if (!(await deps.store.createAgreement(agreement))) {
          throw conflict(`an agreement with ${agreement.partner} already exists`);
        }
        return {
          status: 201,
          body: redactAgreement(agreement),
          headers: { location: `/agreements/${agreement.partner}` },
        };
      },
      'GET /agreements/{partner}': async ({ principal, param, deps }) => {
        assertAdmin(await principal());
        const partner = normalizeDomain(param('partner'));
        const agreement = await deps.store.getAgreement(partner);
        if (!agreement) throw notFound(`no agreement with ${partner}`);
        return { status: 200, body: redactAgreement(agreement) };
      },
      'PUT /agreements/{partner}': async ({ principal, param, body, deps }) => {
        assertAdmin(await principal());
        const agreement = toAgreement(param('partner'), body(AgreementUpdate), deps.system);
        if (!(await deps.store.replaceAgreement(agreement)))
          throw notFound(`no agreement with ${agreement.partner}`);
        return { status: 200, body: redactAgreement(agreement) };
      },
      'DELETE /agreements/{partner}': async ({ principal, param, deps }) => {
        assertAdmin(await principal());
        const partner = normalizeDomain(param('partner'));
        const now = deps.now();
        const inUse = (await deps.store.listTemporaryGroups(now)).filter((tg) =>
          tg.constituents.some((c) => c.system === partner),
        );
        if (inUse.length > 0) {
          throw conflict(
            `temporary groups ${inUse.map((t) => t.tgi).join(', ')} include groups of ${partner}`,
          );
        }
        if (!(await deps.store.deleteAgreement(partner))) throw notFound(`no agreement with ${partner}`);
        return { status: 204 };
      },
    },
    deps,
  );

export const handler = buildHandler();
