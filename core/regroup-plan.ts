/**
 * Planning a group regroup (TS 23.280 §10.2.4, TS 23.379 group regroup across MCPTT systems):
 * validate the request, name the temporary group (TGI) and split the constituent groups into
 * ours and each partner's. Pure: no store or partner is consulted.
 */
import { randomBytes } from 'node:crypto';
import { parseCallPolicyPatch } from './call-policy.ts';
import { badRequest, notFound } from './errors.ts';
import { domainOf, normalizeDomain, normalizeSipUri, userPartOf } from './ids.ts';
import type { CallPolicy, Constituent, PartnerAgreement, SipUri, SystemDomain } from './model.ts';

/** A regroup request as received from an authorized user/dispatcher. */
export interface RegroupRequest {
  /** Constituent group IDs; a bare name means a group of our system. */
  constituents: string[];
  /** User part of the TGI; generated when absent. */
  name?: string;
  displayName?: string;
  /** Override of the merged policy of the temporary group. */
  policy?: Partial<CallPolicy>;
}

/** Context of {@link planRegroup}. */
export interface RegroupContext {
  /** Our system domain (the primary). */
  system: SystemDomain;
  /** Our agreements, by partner domain or as a list. */
  agreements: ReadonlyMap<SystemDomain, PartnerAgreement> | readonly PartnerAgreement[];
  /** Source of the random TGI suffix (tests); default 12 lower-case hex characters. */
  random?: () => string;
}

/** The outcome of {@link planRegroup}. */
export interface RegroupPlan {
  tgi: SipUri;
  displayName: string;
  /** Constituent groups hosted by our system. */
  local: SipUri[];
  /** Constituent groups hosted by each partner, partners in order of first appearance. */
  partners: Map<SystemDomain, SipUri[]>;
  /** All constituents, in request order. */
  constituents: Constituent[];
  /** The validated policy override of the request, if any. */
  policy?: Partial<CallPolicy>;
}

/** Fewest constituent groups of a temporary group. */
export const MIN_CONSTITUENTS = 2;
/** Most constituent groups of a temporary group. */
export const MAX_CONSTITUENTS = 50;
/** Allowed TGI names (user part of the TGI). */
export const TGI_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/i;
const MAX_DISPLAY_NAME_LENGTH = 256;

const defaultRandom = (): string => randomBytes(6).toString('hex');

/**
 * Validates a regroup request and plans it.
 *
 * - each constituent is normalized with {@link normalizeSipUri}, our system as default domain;
 * - 2..50 constituents, no duplicates after normalization;
 * - every constituent is hosted by our system or by a partner we have an agreement with;
 * - TGI: `sip:<name>@<system>` (name matching {@link TGI_NAME_PATTERN}), else
 *   `sip:tg-<12 random hex chars>@<system>`; it must not equal a constituent;
 * - displayName: trimmed request value, default `Temporary group <user part of the TGI>`;
 * - `policy` is validated (limits, unknown keys) and returned as is.
 *
 * @throws DomainError `bad_request` for invalid input; `not_found`
 *   `no partner agreement with <domain>` (details `{ system }`) for an unknown system.
 */
export function planRegroup(req: RegroupRequest, ctx: RegroupContext): RegroupPlan {
  const system = normalizeDomain(ctx.system);
  if (!Array.isArray(req.constituents)) throw badRequest('constituents must be a list of group IDs');
  if (req.constituents.length < MIN_CONSTITUENTS) {
    throw badRequest(
      `a temporary group needs at least ${MIN_CONSTITUENTS} constituent groups, got ${req.constituents.length}`,
    );
  }
  if (req.constituents.length > MAX_CONSTITUENTS) {
    throw badRequest(
      `a temporary group has at most ${MAX_CONSTITUENTS} constituent groups, got ${req.constituents.length}`,
    );
  }

  const agreements = new Map<SystemDomain, PartnerAgreement>();
  const list =
    ctx.agreements instanceof Map ? [...ctx.agreements.values()] : (ctx.agreements as PartnerAgreement[]);
  for (const a of list) {
    try {
      agreements.set(normalizeDomain(a.partner), a);
    } catch {
      // an agreement with an invalid domain cannot host any constituent
    }
  }

  const seen = new Set<SipUri>();
  const constituents: Constituent[] = [];
  const local: SipUri[] = [];
  const partners = new Map<SystemDomain, SipUri[]>();
  for (const raw of req.constituents) {
    const groupId = normalizeSipUri(raw, system);
    if (seen.has(groupId)) throw badRequest(`duplicate constituent group ${groupId}`, { groupId });
    seen.add(groupId);
    const host = domainOf(groupId);
    if (host === system) {
      local.push(groupId);
    } else if (agreements.has(host)) {
      const groups = partners.get(host) ?? [];
      groups.push(groupId);
      partners.set(host, groups);
    } else {
      throw notFound(`no partner agreement with ${host}`, { system: host, groupId });
    }
    constituents.push({ groupId, system: host });
  }

  let name: string;
  if (req.name !== undefined) {
    name = req.name.trim();
    if (!TGI_NAME_PATTERN.test(name)) {
      throw badRequest(
        `invalid temporary group name ${JSON.stringify(req.name)}: 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      );
    }
  } else {
    const suffix = (ctx.random ?? defaultRandom)();
    name = `tg-${suffix}`;
    if (!TGI_NAME_PATTERN.test(name))
      throw badRequest(`generated TGI name ${JSON.stringify(name)} is invalid`);
  }
  const tgi = normalizeSipUri(`sip:${name}@${system}`);
  if (seen.has(tgi))
    throw badRequest(`the temporary group ID ${tgi} is one of its constituent groups`, { tgi });

  let displayName = `Temporary group ${userPartOf(tgi)}`;
  if (req.displayName !== undefined) {
    const d = req.displayName.trim();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused
    if (d === '' || d.length > MAX_DISPLAY_NAME_LENGTH || /[\u0000-\u001F\u007F]/.test(d)) {
      throw badRequest(
        `invalid display name ${JSON.stringify(req.displayName)}: 1-${MAX_DISPLAY_NAME_LENGTH} printable characters`,
      );
    }
    displayName = d;
  }

  const plan: RegroupPlan = { tgi, displayName, local, partners, constituents };
  if (req.policy !== undefined) plan.policy = parseCallPolicyPatch(req.policy);
  return plan;
}
