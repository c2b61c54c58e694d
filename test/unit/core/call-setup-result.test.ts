import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildCallSetupResultXml,
  CALL_SETUP_RESULT_NS,
  CALL_SETUP_RESULT_TYPE,
  type CallSetupResult,
  type LegOutcome,
  MAX_LISTED_MEMBERS,
  parseCallSetupResultXml,
  summarizeLegs,
} from '#core/call-setup-result.ts';
import type { FinalCommencementDecision, LegState } from '#core/commencement-policy.ts';
import { DomainError } from '#core/errors.ts';
import { catchError } from './fixtures.ts';

const TGI = 'sip:tg-1@primary.example';
const PROCEED: FinalCommencementDecision = { decision: 'proceed' };

const leg = (
  member: string,
  system: string,
  state: LegState,
  extra: Partial<LegOutcome> = {},
): LegOutcome => ({
  member,
  system,
  required: false,
  state,
  ...extra,
});

const LEGS: LegOutcome[] = [
  leg('sip:bob@primary.example', 'primary.example', 'accepted', { status: 200 }),
  leg('sip:dan@primary.example', 'primary.example', 'declined', { status: 603, reason: 'Decline' }),
  leg('sip:eve@partner.example', 'partner.example', 'failed', { status: 408, reason: 'Request Timeout' }),
  leg('sip:fay@partner.example', 'partner.example', 'pending'),
  leg('sip:gus@partner.example', 'partner.example', 'accepted', { status: 200, required: true }),
];

describe('Constants', () => {
  it('names the content type and namespace of the result', () => {
    // Arrange / Act / Assess
    expect(CALL_SETUP_RESULT_TYPE).toBe('application/vnd.mcptt-regroup.call-setup-result+xml');
    expect(CALL_SETUP_RESULT_NS).toBe('urn:mcptt-regroup:call-setup-result:1');
  });
});

describe('Function: summarizeLegs', () => {
  it('counts the legs per system and lists every member', () => {
    // Arrange / Act
    const r = summarizeLegs(TGI, 'call-1', LEGS, new Map(), { decision: 'proceed', warningCode: 111 }, 830);
    // Assess
    expect(r).toEqual({
      callId: 'call-1',
      tgi: TGI,
      outcome: 'success',
      warningCode: 111,
      setupMs: 830,
      systems: [
        { system: 'primary.example', invited: 2, accepted: 1, declined: 1, failed: 0 },
        { system: 'partner.example', invited: 3, accepted: 1, declined: 0, failed: 1 },
      ],
      members: [
        { member: 'sip:bob@primary.example', system: 'primary.example', state: 'accepted', status: 200 },
        {
          member: 'sip:dan@primary.example',
          system: 'primary.example',
          state: 'declined',
          status: 603,
          reason: 'Decline',
        },
        {
          member: 'sip:eve@partner.example',
          system: 'partner.example',
          state: 'failed',
          status: 408,
          reason: 'Request Timeout',
        },
        { member: 'sip:fay@partner.example', system: 'partner.example', state: 'pending' },
        { member: 'sip:gus@partner.example', system: 'partner.example', state: 'accepted', status: 200 },
      ],
    });
  });

  it('adds unavailable partners, after the systems with legs, and marks a system with legs too', () => {
    // Arrange
    const unavailable = new Map([
      ['third.example', 'partner timeout'],
      ['partner.example', 'interrogation failed: 502'],
    ]);
    // Act
    const r = summarizeLegs(TGI, 'call-1', LEGS, unavailable, PROCEED, 10);
    // Assess
    expect(r.systems.map((s) => s.system)).toEqual(['primary.example', 'partner.example', 'third.example']);
    expect(r.systems[1]).toMatchObject({ invited: 3, unavailable: { reason: 'interrogation failed: 502' } });
    expect(r.systems[2]).toEqual({
      system: 'third.example',
      invited: 0,
      accepted: 0,
      declined: 0,
      failed: 0,
      unavailable: { reason: 'partner timeout' },
    });
    expect(r.systems[0]).not.toHaveProperty('unavailable');
  });

  it('maps abandon to failure with its Warning and rounds the duration', () => {
    // Arrange
    const abandon: FinalCommencementDecision = {
      decision: 'abandon',
      status: 480,
      warningCode: 112,
      reason: 'required',
    };
    // Act
    const r = summarizeLegs(TGI, 'c', [], new Map([['partner.example', 'down']]), abandon, 12.6);
    // Assess
    expect(r).toMatchObject({ outcome: 'failure', warningCode: 112, setupMs: 13, members: [] });
  });

  it('has no warningCode when the decision has none', () => {
    // Arrange / Act
    const r = summarizeLegs(TGI, 'c', LEGS, new Map(), PROCEED, 1);
    // Assess
    expect(r).not.toHaveProperty('warningCode');
  });

  it('refuses a decision that is not final and a bad duration', () => {
    // Arrange
    const wait = { decision: 'wait' } as unknown as FinalCommencementDecision;
    // Act / Assess
    expect(catchError(() => summarizeLegs(TGI, 'c', LEGS, new Map(), wait, 1)).code).toBe('bad_request');
    expect(catchError(() => summarizeLegs(TGI, 'c', LEGS, new Map(), PROCEED, -1)).code).toBe('bad_request');
    expect(catchError(() => summarizeLegs(TGI, 'c', LEGS, new Map(), PROCEED, Number.NaN)).code).toBe(
      'bad_request',
    );
  });

  const legsArb = fc.array(
    fc.record({
      member: fc.integer({ min: 0, max: 50 }).map((i) => `sip:m${i}@x.example`),
      system: fc.constantFrom('primary.example', 'partner.example', 'third.example'),
      required: fc.boolean(),
      state: fc.constantFrom<LegState>('pending', 'accepted', 'declined', 'failed'),
    }),
    { maxLength: 15 },
  );
  const unavailableArb = fc
    .subarray(['partner.example', 'third.example', 'fourth.example'])
    .map((xs) => new Map(xs.map((s) => [s, `${s} unavailable`])));

  it('lists every member up to MAX_LISTED_MEMBERS legs, then only those that did not accept', () => {
    const many = (n: number, notAccepted: number): LegOutcome[] =>
      Array.from({ length: n }, (_, i) =>
        i < notAccepted
          ? leg(`sip:d${i}@partner.example`, 'partner.example', 'declined', {
              status: 486,
              reason: 'Busy Here',
            })
          : leg(`sip:a${i}@primary.example`, 'primary.example', 'accepted', { status: 200 }),
      );
    const exact = summarizeLegs(TGI, 'c', many(MAX_LISTED_MEMBERS, 1), new Map(), PROCEED, 5);
    expect(exact.members).toHaveLength(MAX_LISTED_MEMBERS);
    expect(exact.membersOmitted).toBeUndefined();

    const big = summarizeLegs(TGI, 'c', many(1000, 3), new Map(), PROCEED, 5);
    expect(big.members.map((m) => m.member)).toEqual([
      'sip:d0@partner.example',
      'sip:d1@partner.example',
      'sip:d2@partner.example',
    ]);
    expect(big.membersOmitted).toBe(997);
    expect(big.systems.reduce((n, s) => n + s.invited, 0)).toBe(1000);
    const xml = buildCallSetupResultXml(big);
    expect(xml).toContain('members-omitted="997"');
    expect(xml.length).toBeLessThan(2_000);
    expect(parseCallSetupResultXml(xml)).toEqual(big);

    const failing = summarizeLegs(TGI, 'c', many(1000, 400), new Map(), PROCEED, 5);
    expect(failing.members).toHaveLength(MAX_LISTED_MEMBERS);
    expect(failing.members.every((m) => m.state === 'declined')).toBe(true);
    expect(failing.membersOmitted).toBe(900);
    // Far below what a UDP datagram can carry, with the SDP beside it in the final response.
    expect(buildCallSetupResultXml(failing).length).toBeLessThan(16_000);
  });

  it('accounts for every leg exactly once and for every unavailable partner (property)', () => {
    fc.assert(
      fc.property(legsArb, unavailableArb, (ls, unavailable) => {
        // Act
        const r = summarizeLegs(TGI, 'c', ls, unavailable, PROCEED, 5);
        // Assess
        const domains = r.systems.map((s) => s.system);
        expect(new Set(domains).size).toBe(domains.length);
        expect(r.systems.reduce((n, s) => n + s.invited, 0)).toBe(ls.length);
        expect(r.members).toHaveLength(ls.length);
        for (const s of r.systems) {
          const mine = ls.filter((l) => l.system === s.system);
          expect(s.invited).toBe(mine.length);
          expect(s.accepted).toBe(mine.filter((l) => l.state === 'accepted').length);
          expect(s.declined).toBe(mine.filter((l) => l.state === 'declined').length);
          expect(s.failed).toBe(mine.filter((l) => l.state === 'failed').length);
          expect(s.unavailable?.reason).toBe(unavailable.get(s.system));
        }
        for (const partner of unavailable.keys()) expect(domains).toContain(partner);
      }),
    );
  });
});

describe('Function: buildCallSetupResultXml', () => {
  it('writes the documented format', () => {
    // Arrange
    const r = summarizeLegs(
      TGI,
      'c-1',
      LEGS.slice(0, 2),
      new Map([['partner.example', 'partner timeout']]),
      { decision: 'proceed', warningCode: 111 },
      830,
    );
    // Act
    const xml = buildCallSetupResultXml(r);
    // Assess
    expect(xml).toBe(`<?xml version="1.0" encoding="UTF-8"?>
<call-setup-result xmlns="urn:mcptt-regroup:call-setup-result:1" call-id="c-1" tgi="sip:tg-1@primary.example" outcome="success" warning="111" setup-ms="830">
  <system domain="primary.example" invited="2" accepted="1" declined="1" failed="0"/>
  <system domain="partner.example" invited="0" accepted="0" declined="0" failed="0">
    <unavailable reason="partner timeout"/>
  </system>
  <member uri="sip:bob@primary.example" system="primary.example" state="accepted" status="200"/>
  <member uri="sip:dan@primary.example" system="primary.example" state="declined" status="603" reason="Decline"/>
</call-setup-result>
`);
  });

  const base: CallSetupResult = {
    callId: 'c',
    tgi: TGI,
    outcome: 'success',
    setupMs: 1,
    systems: [{ system: 'primary.example', invited: 1, accepted: 1, declined: 0, failed: 0 }],
    members: [{ member: 'sip:bob@primary.example', system: 'primary.example', state: 'accepted' }],
  };

  it.each<[string, CallSetupResult]>([
    ['an empty call ID', { ...base, callId: ' ' }],
    ['an unknown outcome', { ...base, outcome: 'maybe' as CallSetupResult['outcome'] }],
    ['an unknown warning', { ...base, warningCode: 110 as CallSetupResult['warningCode'] }],
    ['a fractional duration', { ...base, setupMs: 1.5 }],
    [
      'a negative count',
      { ...base, systems: [{ system: 'p.example', invited: -1, accepted: 0, declined: 0, failed: 0 }] },
    ],
    [
      'an unknown state',
      { ...base, members: [{ member: 'sip:a@b', system: 'b', state: 'ringing' as LegState }] },
    ],
    [
      'a status out of range',
      { ...base, members: [{ member: 'sip:a@b', system: 'b', state: 'failed', status: 99 }] },
    ],
    ['a character XML cannot carry', { ...base, callId: 'a\u0000' }],
  ])('refuses %s', (_label, r) => {
    // Arrange / Act
    const e = catchError(() => buildCallSetupResultXml(r));
    // Assess
    expect(e).toBeInstanceOf(DomainError);
    expect(e.code).toBe('bad_request');
  });

  // Attribute text: anything XML can carry, including quotes, markup, tabs and line breaks.
  const textArb = fc
    .string({ unit: 'grapheme', maxLength: 20 })
    // biome-ignore lint/suspicious/noControlCharactersInRegex: characters XML 1.0 cannot carry
    .filter((s) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(s));
  const anyText = fc.oneof(textArb, fc.constantFrom('a "b" <c> & \'d\'', 'line\r\nbreak\ttab', '  padded  '));
  const nonEmptyText = anyText.filter((s) => s.trim() !== '');
  const countArb = fc.nat({ max: 100_000 });
  const resultArb: fc.Arbitrary<CallSetupResult> = fc
    .record({
      callId: nonEmptyText,
      tgi: nonEmptyText,
      outcome: fc.constantFrom<CallSetupResult['outcome']>('success', 'failure'),
      warningCode: fc.option(fc.constantFrom<111 | 112>(111, 112), { nil: undefined }),
      setupMs: countArb,
      systems: fc.uniqueArray(
        fc.record(
          {
            system: nonEmptyText,
            invited: countArb,
            accepted: countArb,
            declined: countArb,
            failed: countArb,
            unavailable: fc.record({ reason: anyText }),
          },
          { requiredKeys: ['system', 'invited', 'accepted', 'declined', 'failed'] },
        ),
        { selector: (s) => s.system, maxLength: 4 },
      ),
      members: fc.array(
        fc.record(
          {
            member: nonEmptyText,
            system: nonEmptyText,
            state: fc.constantFrom<LegState>('pending', 'accepted', 'declined', 'failed'),
            status: fc.integer({ min: 100, max: 699 }),
            reason: anyText,
          },
          { requiredKeys: ['member', 'system', 'state'] },
        ),
        { maxLength: 6 },
      ),
    })
    .map((r) => {
      const { warningCode, ...rest } = r;
      return warningCode === undefined ? rest : { ...rest, warningCode };
    });

  it('round-trips through parseCallSetupResultXml (property)', () => {
    fc.assert(
      fc.property(resultArb, (r) => {
        // Act
        const back = parseCallSetupResultXml(buildCallSetupResultXml(r));
        // Assess
        expect(back).toEqual(r);
      }),
    );
  });
});

describe('Function: parseCallSetupResultXml', () => {
  const NS = CALL_SETUP_RESULT_NS;
  const doc = (attrs: string, inner = ''): string =>
    `<call-setup-result xmlns="${NS}" ${attrs}>${inner}</call-setup-result>`;
  const OK_ATTRS = 'call-id="c" tgi="sip:tg-1@primary.example" outcome="success" setup-ms="5"';

  it('accepts a prefixed document and ignores foreign elements', () => {
    // Arrange
    const xml = `<r:call-setup-result xmlns:r="${NS}" ${OK_ATTRS} warning=" 112 ">
      <r:system domain="p.example" invited="1" accepted="0" declined="0" failed="1"/>
      <x:system xmlns:x="urn:other" domain="ignored"/>
      <r:member uri="sip:a@p.example" system="p.example" state="failed"/>
    </r:call-setup-result>`;
    // Act / Assess
    expect(parseCallSetupResultXml(xml)).toEqual({
      callId: 'c',
      tgi: 'sip:tg-1@primary.example',
      outcome: 'success',
      warningCode: 112,
      setupMs: 5,
      systems: [{ system: 'p.example', invited: 1, accepted: 0, declined: 0, failed: 1 }],
      members: [{ member: 'sip:a@p.example', system: 'p.example', state: 'failed' }],
    });
  });

  it.each<[string, string, string]>([
    ['a DOCTYPE', `<!DOCTYPE x>${doc(OK_ATTRS)}`, 'DOCTYPE'],
    ['a wrong root', `<result xmlns="${NS}"/>`, 'root element must be <call-setup-result>'],
    ['a root in no namespace', `<call-setup-result ${OK_ATTRS}/>`, 'root element'],
    ['a missing call ID', doc('tgi="t" outcome="success" setup-ms="1"'), 'no call-id attribute'],
    ['an unknown outcome', doc('call-id="c" tgi="t" outcome="ok" setup-ms="1"'), 'unknown outcome'],
    ['a bad duration', doc('call-id="c" tgi="t" outcome="success" setup-ms="-1"'), 'non-negative integer'],
    ['an unknown warning', doc(`${OK_ATTRS} warning="110"`), 'unknown warning'],
    [
      'a system listed twice',
      doc(
        OK_ATTRS,
        '<system domain="p" invited="0" accepted="0" declined="0" failed="0"/><system domain="p" invited="0" accepted="0" declined="0" failed="0"/>',
      ),
      'listed twice',
    ],
    [
      'a bad count',
      doc(OK_ATTRS, '<system domain="p" invited="x" accepted="0" declined="0" failed="0"/>'),
      'invited',
    ],
    [
      'two unavailable',
      doc(
        OK_ATTRS,
        '<system domain="p" invited="0" accepted="0" declined="0" failed="0"><unavailable reason="a"/><unavailable reason="b"/></system>',
      ),
      'more than one <unavailable>',
    ],
    [
      'an unknown state',
      doc(OK_ATTRS, '<member uri="sip:a@b" system="b" state="ringing"/>'),
      'unknown member state',
    ],
    [
      'a status out of range',
      doc(OK_ATTRS, '<member uri="sip:a@b" system="b" state="failed" status="700"/>'),
      'out of range',
    ],
    ['an empty member', doc(OK_ATTRS, '<member uri=" " system="b" state="failed"/>'), 'empty uri'],
  ])('refuses %s with a bad_request', (_label, xml, message) => {
    // Arrange / Act
    const e = catchError(() => parseCallSetupResultXml(xml));
    // Assess
    expect(e).toBeInstanceOf(DomainError);
    expect(e.code).toBe('bad_request');
    expect(e.message).toMatch(/^malformed call setup result: /);
    expect(e.message).toContain(message);
  });
});
