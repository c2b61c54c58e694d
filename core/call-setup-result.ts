/**
 * The **call setup complete** result of a group call on a temporary group (TS 23.379, group call
 * for a temporary group formed by group regroup with multiple MCPTT systems, step 6: "success or
 * failure, and detailed reason information on failure"), sent to the initiator as a body part of
 * the final response it can read (architecture, workflow step 7).
 *
 * TS 23.379 names the information flow but no 3GPP format carries it, so this project defines one:
 * `application/vnd.mcptt-regroup.call-setup-result+xml` in namespace
 * `urn:mcptt-regroup:call-setup-result:1`.
 *
 * ```xml
 * <call-setup-result xmlns="urn:mcptt-regroup:call-setup-result:1" call-id="c-1" tgi="sip:tg-1@primary.example"
 *     outcome="success" warning="111" setup-ms="830">
 *   <system domain="primary.example" invited="2" accepted="1" declined="1" failed="0"/>
 *   <system domain="partner.example" invited="0" accepted="0" declined="0" failed="0">
 *     <unavailable reason="partner timeout"/>
 *   </system>
 *   <member uri="sip:bob@primary.example" system="primary.example" state="accepted" status="200"/>
 *   <member uri="sip:dan@primary.example" system="primary.example" state="declined" status="603" reason="Decline"/>
 * </call-setup-result>
 * ```
 *
 * A call of more than {@link MAX_LISTED_MEMBERS} legs lists only the members that did not accept
 * (the "detailed reason information on failure"), at most that many, and says how many it left out
 * (`members-omitted`); the per-system counts always cover every leg. The result travels in the final
 * response to the initiator, which over UDP must stay far below 64 KB (RFC 3261 §18.2.2 sends a
 * response over the transport of its request): a thousand member lines would not fit.
 */
import { escapeXmlAttribute } from './affiliation-pidf.ts';
import type { FinalCommencementDecision, LegState, LegView } from './commencement-policy.ts';
import { badRequest } from './errors.ts';
import type { SipUri, SystemDomain } from './model.ts';
import { describeXmlElement, parseXmlTree, type XmlElement, xmlChildren } from './xml-tree.ts';

/** MIME type of the call setup result body part. */
export const CALL_SETUP_RESULT_TYPE = 'application/vnd.mcptt-regroup.call-setup-result+xml';
/** XML namespace of the call setup result. */
export const CALL_SETUP_RESULT_NS = 'urn:mcptt-regroup:call-setup-result:1';
/** Longest accepted document, in characters. */
export const MAX_CALL_SETUP_RESULT_LENGTH = 4_000_000;
/** Most `<member>` lines in a result (about 100 bytes each: 10 KB at most). */
export const MAX_LISTED_MEMBERS = 100;

/** Per-system counts of a call setup. */
export interface CallSetupSystemResult {
  system: SystemDomain;
  /** Legs (invitations) sent to members of this system. */
  invited: number;
  accepted: number;
  declined: number;
  failed: number;
  /** Present when the system could not be interrogated (TS 23.379 steps 3–4): why. */
  unavailable?: { reason: string };
}

/** One invited member's outcome. */
export interface CallSetupMemberResult {
  member: SipUri;
  system: SystemDomain;
  state: LegState;
  /** The SIP status of the member's final answer, when known. */
  status?: number;
  /** Why the leg did not succeed (reason phrase, Warning text, or our own reason). */
  reason?: string;
}

/** The call setup complete result (TS 23.379 step 6). */
export interface CallSetupResult {
  callId: string;
  tgi: SipUri;
  outcome: 'success' | 'failure';
  /** 111 (proceeded without all required members) or 112 (abandoned for them), TS 24.379 §4.4.2. */
  warningCode?: 111 | 112;
  /** Time from the INVITE to the decision, milliseconds. */
  setupMs: number;
  systems: CallSetupSystemResult[];
  members: CallSetupMemberResult[];
  /** Members left out of `members` (a call of more than {@link MAX_LISTED_MEMBERS} legs). */
  membersOmitted?: number;
}

/** A leg as {@link summarizeLegs} reads it: the commencement view plus the member's final answer. */
export type LegOutcome = LegView & { status?: number; reason?: string };

const LEG_STATES: ReadonlySet<string> = new Set(['pending', 'accepted', 'declined', 'failed']);

/**
 * Aggregates the legs of a call into its {@link CallSetupResult} (architecture, workflow step 7).
 *
 * - `outcome` is `success` for a `proceed` decision, `failure` for `abandon`; `warningCode` is the
 *   decision's (111 / 112), when it has one;
 * - one `systems` entry per system, first the systems of the legs in order of first appearance,
 *   then the unavailable partners that have no leg; a partner in `partnersUnavailable` gets
 *   `unavailable: { reason }`. `invited` counts every leg of the system; legs still `pending` are
 *   `invited - accepted - declined - failed`;
 * - `setupMs` is rounded to whole milliseconds;
 * - `members` lists every leg in the given order with its state, and `status`/`reason` when known;
 *   with more than {@link MAX_LISTED_MEMBERS} legs, only the legs that did not accept, at most
 *   {@link MAX_LISTED_MEMBERS}, and `membersOmitted` counts the others.
 *
 * @throws DomainError `bad_request` when `decision` is not final (a `wait` passed through a cast)
 *   or `setupMs` is negative or not finite.
 */
export function summarizeLegs(
  tgi: SipUri,
  callId: string,
  legs: readonly LegOutcome[],
  partnersUnavailable: ReadonlyMap<SystemDomain, string>,
  decision: FinalCommencementDecision,
  setupMs: number,
): CallSetupResult {
  const kind = (decision as { decision: string }).decision;
  if (kind !== 'proceed' && kind !== 'abandon') {
    throw badRequest(`a call setup result needs a final decision, got ${JSON.stringify(kind)}`);
  }
  if (!Number.isFinite(setupMs) || setupMs < 0) throw badRequest(`invalid setup duration ${String(setupMs)}`);

  const systems = new Map<SystemDomain, CallSetupSystemResult>();
  const entry = (system: SystemDomain): CallSetupSystemResult => {
    let s = systems.get(system);
    if (s === undefined) {
      s = { system, invited: 0, accepted: 0, declined: 0, failed: 0 };
      systems.set(system, s);
    }
    return s;
  };
  const members: CallSetupMemberResult[] = [];
  for (const leg of legs) {
    const s = entry(leg.system);
    s.invited++;
    if (leg.state === 'accepted') s.accepted++;
    else if (leg.state === 'declined') s.declined++;
    else if (leg.state === 'failed') s.failed++;
    const m: CallSetupMemberResult = { member: leg.member, system: leg.system, state: leg.state };
    if (leg.status !== undefined) m.status = leg.status;
    if (leg.reason !== undefined) m.reason = leg.reason;
    members.push(m);
  }
  for (const [system, reason] of partnersUnavailable) entry(system).unavailable = { reason };
  let listed = members;
  if (members.length > MAX_LISTED_MEMBERS) {
    listed = members.filter((m) => m.state !== 'accepted').slice(0, MAX_LISTED_MEMBERS);
  }

  const result: CallSetupResult = {
    callId,
    tgi,
    outcome: decision.decision === 'proceed' ? 'success' : 'failure',
    setupMs: Math.round(setupMs),
    systems: [...systems.values()],
    members: listed,
  };
  if (listed.length < members.length) result.membersOmitted = members.length - listed.length;
  if (decision.warningCode !== undefined) result.warningCode = decision.warningCode;
  return result;
}

// ---------------------------------------------------------------------------------------------

const attr = (name: string, value: string | number): string =>
  ` ${name}="${escapeXmlAttribute(String(value))}"`;

const requireText = (v: unknown, what: string): void => {
  if (typeof v !== 'string' || v.trim() === '') throw badRequest(`empty ${what} in a call setup result`);
};

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * Serializes `r` in the {@link CALL_SETUP_RESULT_NS} format (see the module comment).
 * @throws DomainError `bad_request` when a value cannot be carried: an empty call ID, TGI, member or
 *   system, negative or non-integer counts, a status outside 100–699, an unknown state or outcome, characters XML cannot carry.
 */
export function buildCallSetupResultXml(r: CallSetupResult): string {
  if (r.outcome !== 'success' && r.outcome !== 'failure') {
    throw badRequest(`invalid call setup outcome ${JSON.stringify(r.outcome)}`);
  }
  if (r.warningCode !== undefined && r.warningCode !== 111 && r.warningCode !== 112) {
    throw badRequest(`invalid call setup warning ${String(r.warningCode)}`);
  }
  if (!isCount(r.setupMs)) throw badRequest(`invalid setup duration ${String(r.setupMs)}`);
  requireText(r.callId, 'call ID');
  requireText(r.tgi, 'TGI');
  let head = `<call-setup-result xmlns="${CALL_SETUP_RESULT_NS}"`;
  head += attr('call-id', r.callId) + attr('tgi', r.tgi) + attr('outcome', r.outcome);
  if (r.warningCode !== undefined) head += attr('warning', r.warningCode);
  head += attr('setup-ms', r.setupMs);
  if (r.membersOmitted !== undefined) {
    if (!isCount(r.membersOmitted)) throw badRequest(`invalid omitted count ${String(r.membersOmitted)}`);
    head += attr('members-omitted', r.membersOmitted);
  }
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `${head}>`];
  for (const s of r.systems) {
    requireText(s.system, 'system domain');
    let line = `  <system${attr('domain', s.system)}`;
    for (const k of ['invited', 'accepted', 'declined', 'failed'] as const) {
      if (!isCount(s[k])) throw badRequest(`invalid ${k} count ${String(s[k])} for ${s.system}`);
      line += attr(k, s[k]);
    }
    if (s.unavailable === undefined) {
      lines.push(`${line}/>`);
    } else {
      lines.push(`${line}>`, `    <unavailable${attr('reason', s.unavailable.reason)}/>`, '  </system>');
    }
  }
  for (const m of r.members) {
    requireText(m.member, 'member URI');
    requireText(m.system, 'member system');
    if (!LEG_STATES.has(m.state)) throw badRequest(`invalid leg state ${JSON.stringify(m.state)}`);
    let line = `  <member${attr('uri', m.member)}${attr('system', m.system)}${attr('state', m.state)}`;
    if (m.status !== undefined) {
      if (!Number.isInteger(m.status) || m.status < 100 || m.status > 699) {
        throw badRequest(`invalid SIP status ${String(m.status)} for ${m.member}`);
      }
      line += attr('status', m.status);
    }
    if (m.reason !== undefined) line += attr('reason', m.reason);
    lines.push(`${line}/>`);
  }
  lines.push('</call-setup-result>', '');
  return lines.join('\n');
}

const malformed = (why: string) => badRequest(`malformed call setup result: ${why}`);

function required(el: XmlElement, name: string): string {
  const v = el.attrs.get(name);
  if (v === undefined) throw malformed(`<${el.local}> has no ${name} attribute`);
  return v;
}

function nonEmpty(el: XmlElement, name: string): string {
  const v = required(el, name);
  if (v.trim() === '') throw malformed(`<${el.local}> has an empty ${name} attribute`);
  return v;
}

function count(el: XmlElement, name: string): number {
  const v = required(el, name).trim();
  const n = /^[0-9]{1,15}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw malformed(
      `<${el.local}> ${name} must be a non-negative integer, got ${JSON.stringify(v.slice(0, 20))}`,
    );
  }
  return n;
}

/**
 * Parses a call setup result document (namespace-aware: any prefix bound to
 * {@link CALL_SETUP_RESULT_NS}; elements of other namespaces are ignored).
 * `buildCallSetupResultXml` then `parseCallSetupResultXml` gives back an equal object.
 * @throws DomainError `bad_request` `malformed call setup result: <reason>`: not XML, DOCTYPE,
 *   wrong root, missing or invalid attributes, unknown state/outcome/warning, a system listed twice,
 *   more than one `<unavailable>` in a system.
 */
export function parseCallSetupResultXml(xml: string): CallSetupResult {
  const root = parseXmlTree(xml, { what: 'call setup result', maxLength: MAX_CALL_SETUP_RESULT_LENGTH });
  if (root.ns !== CALL_SETUP_RESULT_NS || root.local !== 'call-setup-result') {
    throw malformed(
      `root element must be <call-setup-result> in namespace "${CALL_SETUP_RESULT_NS}", found ${describeXmlElement(root)}`,
    );
  }
  const outcome = required(root, 'outcome').trim();
  if (outcome !== 'success' && outcome !== 'failure') {
    throw malformed(`unknown outcome ${JSON.stringify(outcome)} (success or failure)`);
  }
  const result: CallSetupResult = {
    callId: nonEmpty(root, 'call-id'),
    tgi: nonEmpty(root, 'tgi'),
    outcome,
    setupMs: count(root, 'setup-ms'),
    systems: [],
    members: [],
  };
  const warning = root.attrs.get('warning')?.trim();
  if (warning !== undefined) {
    if (warning !== '111' && warning !== '112') throw malformed(`unknown warning ${JSON.stringify(warning)}`);
    result.warningCode = warning === '111' ? 111 : 112;
  }
  if (root.attrs.has('members-omitted')) result.membersOmitted = count(root, 'members-omitted');

  const seen = new Set<string>();
  for (const el of xmlChildren(root, CALL_SETUP_RESULT_NS, 'system')) {
    const system = nonEmpty(el, 'domain');
    if (seen.has(system)) throw malformed(`system ${JSON.stringify(system)} listed twice`);
    seen.add(system);
    const s: CallSetupSystemResult = {
      system,
      invited: count(el, 'invited'),
      accepted: count(el, 'accepted'),
      declined: count(el, 'declined'),
      failed: count(el, 'failed'),
    };
    const unavailable = xmlChildren(el, CALL_SETUP_RESULT_NS, 'unavailable');
    if (unavailable.length > 1)
      throw malformed(`system ${JSON.stringify(system)} has more than one <unavailable>`);
    const u = unavailable[0];
    if (u !== undefined) s.unavailable = { reason: required(u, 'reason') };
    result.systems.push(s);
  }
  for (const el of xmlChildren(root, CALL_SETUP_RESULT_NS, 'member')) {
    const state = required(el, 'state').trim();
    if (!LEG_STATES.has(state)) throw malformed(`unknown member state ${JSON.stringify(state)}`);
    const m: CallSetupMemberResult = {
      member: nonEmpty(el, 'uri'),
      system: nonEmpty(el, 'system'),
      state: state as LegState,
    };
    if (el.attrs.has('status')) {
      const status = count(el, 'status');
      if (status < 100 || status > 699) throw malformed(`SIP status ${status} out of range (100-699)`);
      m.status = status;
    }
    const reason = el.attrs.get('reason');
    if (reason !== undefined) m.reason = reason;
    result.members.push(m);
  }
  return result;
}
