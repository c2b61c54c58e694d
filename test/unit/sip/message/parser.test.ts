import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ParseResult, parseMessage, validateRequestHeaders } from '../../../../sip/message/parser.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../../../sip/message/types.ts';

const msg = (lines: string[], body = ''): Buffer =>
  Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'utf8');

const INVITE = [
  'INVITE sip:bob@biloxi.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.com>',
  'From: Alice <sip:alice@atlanta.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.com>',
  'Content-Type: application/sdp',
];
const SDP = 'v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.com\r\ns=-\r\n';

const ok = (r: ParseResult): SipMessage => {
  if (!r.ok) throw new Error(`expected success, got: ${r.error}`);
  return r.message;
};
const okRequest = (r: ParseResult): SipRequest => {
  const m = ok(r);
  if (m.kind !== 'request') throw new Error('not a request');
  return m;
};
const okResponse = (r: ParseResult): SipResponse => {
  const m = ok(r);
  if (m.kind !== 'response') throw new Error('not a response');
  return m;
};
const err = (r: ParseResult): string => {
  if (r.ok) throw new Error('expected a parse error');
  return r.error;
};
const replace = (lines: string[], i: number, line: string): string[] =>
  lines.map((l, k) => (k === i ? line : l));

describe('Function: parseMessage — start line (RFC 3261 §7.1, §7.2)', () => {
  it('parses a request', () => {
    const m = okRequest(parseMessage(msg([...INVITE, `Content-Length: ${SDP.length}`], SDP)));
    expect(m.method).toBe('INVITE');
    expect(m.uri).toBe('sip:bob@biloxi.com');
    expect(m.version).toBe('SIP/2.0');
    expect(m.body.toString()).toBe(SDP);
    expect(m.headers.get('Via')).toBe('SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds');
    expect(m.headers.entries.map(([n]) => n)).toEqual([
      'Via',
      'Max-Forwards',
      'To',
      'From',
      'Call-ID',
      'CSeq',
      'Contact',
      'Content-Type',
      'Content-Length',
    ]);
  });

  it('parses a response, with an empty or UTF-8 reason phrase', () => {
    const base = ['Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1', 'CSeq: 1 INVITE', 'Content-Length: 0'];
    expect(okResponse(parseMessage(msg(['SIP/2.0 180 Ringing', ...base])))).toMatchObject({
      status: 180,
      reason: 'Ringing',
    });
    expect(okResponse(parseMessage(msg(['SIP/2.0 100 ', ...base]))).reason).toBe('');
    expect(okResponse(parseMessage(msg(['SIP/2.0 200 Très bien ✓', ...base]))).reason).toBe('Très bien ✓');
    expect(okResponse(parseMessage(msg(['sip/2.0 200 OK', ...base]))).version).toBe('SIP/2.0');
  });

  it('accepts a case-insensitive SIP-Version but keeps the method case-sensitive', () => {
    const m = okRequest(
      parseMessage(msg([...replace(INVITE, 0, 'INVITE sip:bob@biloxi.com sip/2.0'), 'l: 0'])),
    );
    expect(m.version).toBe('SIP/2.0');
    expect(
      err(parseMessage(msg([...replace(INVITE, 0, 'invite sip:bob@biloxi.com SIP/2.0'), 'l: 0']))),
    ).toMatch(/CSeq method/);
  });

  it.each([
    ['two SPs (lwsstart)', 'INVITE  sip:bob@biloxi.com SIP/2.0'],
    ['trailing SP (trws)', 'INVITE sip:bob@biloxi.com SIP/2.0 '],
    ['SP inside the URI (lwsruri)', 'INVITE sip:bob@biloxi.com; lr SIP/2.0'],
    ['leading SP', ' INVITE sip:bob@biloxi.com SIP/2.0'],
    ['HTAB separator', 'INVITE\tsip:bob@biloxi.com SIP/2.0'],
    ['missing version', 'INVITE sip:bob@biloxi.com'],
    ['bracketed URI (ltgtruri)', 'INVITE <sip:bob@biloxi.com> SIP/2.0'],
    ['URI headers (escruri)', 'INVITE sip:bob@biloxi.com?Route=%3Csip:example.com%3E SIP/2.0'],
    ['method not a token', 'INV@ITE sip:bob@biloxi.com SIP/2.0'],
    ['malformed version', 'INVITE sip:bob@biloxi.com SIP/2'],
    ['empty URI', 'INVITE  SIP/2.0'],
  ])('rejects a Request-Line with %s', (_what, line) => {
    const r = parseMessage(msg([...replace(INVITE, 0, line), 'l: 0']));
    expect(r.ok).toBe(false);
  });

  it('reports 505 for another SIP version (badvers), with the headers in partial', () => {
    const r = parseMessage(msg([...replace(INVITE, 0, 'OPTIONS sip:bob@biloxi.com SIP/7.0'), 'l: 0']));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.status).toBe(505);
    expect(r.kind).toBe('request');
    expect(r.partial?.method).toBe('OPTIONS');
    expect(r.partial?.headers.get('Call-ID')).toBe('a84b4c76e66710@pc33.atlanta.com');
  });

  it.each([
    ['a 10-digit code (bigcode)', 'SIP/2.0 4294967301 better not break the receiver'],
    ['a 2-digit code', 'SIP/2.0 99 Low'],
    ['code 700', 'SIP/2.0 700 High'],
    ['code 099', 'SIP/2.0 099 Low'],
    ['no SP after the code', 'SIP/2.0 200'],
    ['another version', 'SIP/3.0 200 OK'],
    ['a control character in the reason', 'SIP/2.0 200 O\u0001K'],
    ['a quote in the reason (not reserved/unreserved)', 'SIP/2.0 200 "OK"'],
  ])('rejects a Status-Line with %s', (_what, line) => {
    const r = parseMessage(
      msg([line, 'Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1', 'CSeq: 1 INVITE', 'l: 0']),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.kind).toBe('response');
  });
});

describe('Function: parseMessage — header fields (RFC 3261 §7.3)', () => {
  it('unfolds continuation lines, expands compact forms, keeps field order and repeats', () => {
    const m = okRequest(
      parseMessage(
        msg([
          'OPTIONS sip:bob@biloxi.com SIP/2.0',
          'v: SIP/2.0/UDP a.example.com;branch=z9hG4bKa',
          'Via  :  SIP  /  2.0',
          '   /UDP',
          '\tb.example.com;branch=z9hG4bKb',
          'cseq: 0009',
          '  OPTIONS',
          'X-Empty:',
          'x-multi: a, b',
          'X-Multi: c',
          'i: abc',
          'f: <sip:alice@atlanta.com>;tag=1',
          't: <sip:bob@biloxi.com>',
          'l: 0',
        ]),
      ),
    );
    expect(m.headers.getAll('Via')).toEqual([
      'SIP/2.0/UDP a.example.com;branch=z9hG4bKa',
      'SIP  /  2.0 /UDP b.example.com;branch=z9hG4bKb',
    ]);
    expect(m.headers.get('CSeq')).toBe('0009 OPTIONS');
    expect(m.headers.get('X-Empty')).toBe('');
    expect(m.headers.getAll('X-Multi')).toEqual(['a, b', 'c']);
    expect(m.headers.get('Call-ID')).toBe('abc');
    expect(m.headers.get('Content-Length')).toBe('0');
  });

  it('keeps quoted strings with escapes and UTF-8 values', () => {
    const m = okRequest(
      parseMessage(
        msg([
          ...replace(INVITE, 4, 'From: "Zoë \\"Z\\" \\\\ Ångström" <sip:zoe@atlanta.com>;tag=1'),
          'Subject: ☎ call me',
          'l: 0',
        ]),
      ),
    );
    expect(m.headers.get('From')).toBe('"Zoë \\"Z\\" \\\\ Ångström" <sip:zoe@atlanta.com>;tag=1');
    expect(m.headers.get('Subject')).toBe('☎ call me');
  });

  it('ignores CRLFs before the start line (§7.5)', () => {
    const data = Buffer.concat([Buffer.from('\r\n\r\n'), msg([...INVITE, 'l: 0'])]);
    expect(okRequest(parseMessage(data)).method).toBe('INVITE');
  });

  it.each([
    ['a header name that is not a token', 'Bad Name: x'],
    ['a line without colon', 'JustText'],
    ['a bare LF inside a line', 'X-A: a\nb'],
    ['a raw control character in an extension value', 'X-A: a\u0001b'],
    [
      'an unquoted comma in a display name (baddn)',
      'From: Bell, Alexander <sip:a.g.bell@example.com>;tag=43',
    ],
    ['white space inside <> (badaspec)', 'To: "Watson, Thomas" < sip:t.watson@example.org >'],
    ['an unterminated quote (quotbal)', 'To: "Mr. J. User <sip:j.user@example.com>'],
    ['a bad Date (baddate)', 'Date: Fri, 01 Jan 2010 16:00:00 EST'],
    ['a bad Contact (regbadct)', 'Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E'],
    ['empty Contact parameters (badinv01)', 'Contact: "Joe" <sip:joe@example.org>;;;;'],
    ['a bad Contact q', 'Contact: <sip:a@example.com>;q=1.5'],
    ['a bad Via', 'Via: SIP/2.0/UDP 192.0.2.15;;,;,,'],
    ['Max-Forwards above 255', 'Max-Forwards: 300'],
    ['Max-Forwards not a number', 'Max-Forwards: seventy'],
    ['Expires above 2**32-1', 'Expires: 4294967296'],
    ['a Call-ID with a space', 'Call-ID: a b'],
    ['a Call-ID with two "@"', 'Call-ID: a@b@c'],
    ['a bad Content-Type', 'Content-Type: application'],
    ['a bad Retry-After', 'Retry-After: 949302838503028349304023988'],
    ['a bad Warning code', 'Warning: 1812 overture "In Progress"'],
    ['a bad Route', 'Route: <sip:proxy.example.com;lr'],
  ])('rejects %s', (_what, line) => {
    const r = parseMessage(msg([...INVITE, line, 'l: 0']));
    expect(r.ok).toBe(false);
  });

  it('rejects a continuation line right after the start line', () => {
    expect(
      err(parseMessage(msg(['INVITE sip:bob@biloxi.com SIP/2.0', ' folded', ...INVITE.slice(1), 'l: 0']))),
    ).toMatch(/continuation/);
  });

  it('rejects invalid UTF-8 in the header section, but still returns partial headers', () => {
    const head = Buffer.from(`${INVITE.join('\r\n')}\r\nSubject: `);
    const r = parseMessage(Buffer.concat([head, Buffer.from([0xc3, 0x28]), Buffer.from('\r\nl: 0\r\n\r\n')]));
    expect(err(r)).toMatch(/UTF-8/);
    if (!r.ok) expect(r.partial?.headers.get('CSeq')).toBe('314159 INVITE');
  });

  it('rejects CSeq method mismatch (mismatch01/02) and oversized CSeq (scalar02)', () => {
    expect(err(parseMessage(msg([...replace(INVITE, 6, 'CSeq: 8 OPTIONS'), 'l: 0'])))).toMatch(
      /does not match/,
    );
    expect(
      err(parseMessage(msg([...replace(INVITE, 6, 'CSeq: 36893488147419103232 INVITE'), 'l: 0']))),
    ).toMatch(/2\*\*32/);
  });

  it('requires Via and CSeq; To/From/Call-ID only when strictMandatory (RFC 4475 insuf)', () => {
    const without = (name: string) => INVITE.filter((l) => !l.startsWith(`${name}:`));
    expect(err(parseMessage(msg([...without('Via'), 'l: 0'])))).toMatch(/missing Via/);
    expect(err(parseMessage(msg([...without('CSeq'), 'l: 0'])))).toMatch(/missing CSeq/);
    const noCallId = msg([...without('Call-ID'), 'l: 0']);
    const m = okRequest(parseMessage(noCallId));
    expect(validateRequestHeaders(m)).toBe('Missing Call-ID header field');
    expect(err(parseMessage(noCallId, { strictMandatory: true }))).toMatch(/missing Call-ID/);
    // Max-Forwards may be absent (RFC 2543 peers, RFC 4475 §3.4).
    expect(
      validateRequestHeaders(okRequest(parseMessage(msg([...without('Max-Forwards'), 'l: 0'])))),
    ).toBeUndefined();
  });

  it('validateRequestHeaders flags repeated single-valued fields (RFC 4475 multi01)', () => {
    const m = okRequest(parseMessage(msg([...INVITE, 'Call-ID: other@x', 'l: 0'])));
    expect(validateRequestHeaders(m)).toBe('Multiple Call-ID header fields');
    expect(validateRequestHeaders(okRequest(parseMessage(msg([...INVITE, 'l: 0']))))).toBeUndefined();
  });

  it('returns partial headers and the method on failure', () => {
    const r = parseMessage(msg([...replace(INVITE, 1, 'Via: garbage'), 'l: 0']));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.kind).toBe('request');
    expect(r.status).toBe(400);
    expect(r.partial?.method).toBe('INVITE');
    expect(r.partial?.headers.get('To')).toBe('Bob <sip:bob@biloxi.com>');
  });
});

describe('Function: parseMessage — body and Content-Length (RFC 3261 §18.3, §20.14)', () => {
  it('UDP: truncates octets beyond Content-Length (dblreq)', () => {
    const m = ok(parseMessage(msg([...INVITE, 'Content-Length: 3'], 'abcdef')));
    expect(m.body.toString()).toBe('abc');
  });

  it('UDP: a missing Content-Length means the rest of the datagram', () => {
    expect(ok(parseMessage(msg(INVITE, SDP))).body.toString()).toBe(SDP);
  });

  it('UDP: a body shorter than Content-Length is an error (clerr)', () => {
    expect(err(parseMessage(msg([...INVITE, 'Content-Length: 9999'], SDP)))).toMatch(/shorter/);
  });

  it.each(['-999', '1e3', '', '0x10', '99999999999999999999'])('rejects Content-Length %j (ncl)', (v) => {
    expect(parseMessage(msg([...INVITE, `Content-Length: ${v}`], SDP)).ok).toBe(false);
  });

  it('TCP: Content-Length is mandatory and exact', () => {
    expect(err(parseMessage(msg(INVITE, SDP), { transport: 'tcp' }))).toMatch(/mandatory/);
    expect(err(parseMessage(msg([...INVITE, 'l: 3'], SDP), { transport: 'tcp' }))).toMatch(
      /after the message body/,
    );
    expect(
      ok(parseMessage(msg([...INVITE, `l: ${SDP.length}`], SDP), { transport: 'tcp' })).body.toString(),
    ).toBe(SDP);
  });

  it('conflicting Content-Length: UDP takes the first (mcl01, left to validateRequestHeaders), TCP fails', () => {
    const data = msg([...INVITE, 'Content-Length: 3', 'Content-Length: 5'], 'abcdefgh');
    const m = okRequest(parseMessage(data));
    expect(m.body.toString()).toBe('abc');
    expect(validateRequestHeaders(m)).toBe('Multiple Content-Length header fields');
    expect(err(parseMessage(data, { transport: 'tcp' }))).toMatch(/conflicting/);
  });

  it('keeps binary bodies intact', () => {
    const body = Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10, 0]);
    const data = Buffer.concat([msg([...INVITE, `Content-Length: ${body.length}`]), body]);
    expect(ok(parseMessage(data)).body.equals(body)).toBe(true);
  });

  it('rejects a message without the empty line', () => {
    expect(err(parseMessage(Buffer.from(`${INVITE.join('\r\n')}\r\n`)))).toMatch(/empty line/);
  });
});

describe('Function: parseMessage — limits and robustness', () => {
  it('rejects more than 256 header fields', () => {
    const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`);
    expect(err(parseMessage(msg([...INVITE, ...many, 'l: 0'])))).toMatch(/more than 256/);
    expect(ok(parseMessage(msg([...INVITE, ...many.slice(0, 200), 'l: 0']))).headers.entries.length).toBe(
      209,
    );
  });

  it('rejects over-long lines and over-large messages', () => {
    expect(err(parseMessage(msg([...INVITE, `X-Long: ${'a'.repeat(10_000)}`, 'l: 0'])))).toMatch(/too long/);
    const r = parseMessage(msg([...INVITE, 'l: 0']), { maxMessageSize: 100 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.status).toBe(513);
    expect(err(parseMessage(Buffer.alloc(0)))).toMatch(/empty/);
    expect(err(parseMessage(Buffer.from('\r\n\r\n')))).toMatch(/empty/);
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const r = parseMessage(Buffer.from(bytes));
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutated valid messages', () => {
    const base = msg([...INVITE, `Content-Length: ${SDP.length}`], SDP);
    const alphabet = [...' \t\r\n:;,"<>@\\/=%[]?0aZ\u0000\u00ff'].map((c) => c.charCodeAt(0));
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.nat(base.length), fc.constantFrom(...alphabet), fc.constantFrom('set', 'ins', 'del')),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        fc.boolean(),
        (edits, tcp) => {
          const bytes = [...base];
          for (const [pos, byte, op] of edits) {
            const p = Math.min(pos, bytes.length);
            if (op === 'set') bytes[p] = byte;
            else if (op === 'ins') bytes.splice(p, 0, byte);
            else bytes.splice(p, 1);
          }
          const r = parseMessage(Buffer.from(bytes), { transport: tcp ? 'tcp' : 'udp' });
          expect(typeof r.ok).toBe('boolean');
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('stays linear on pathological input', () => {
    const cases = [
      msg([...INVITE, `To: ${'"'.repeat(7000)}`, 'l: 0']),
      msg([...INVITE, `Via: SIP/2.0/UDP h${';a=b'.repeat(1900)}`, 'l: 0']),
      msg([...INVITE, `Contact: ${'<sip:a@b.example>,'.repeat(400)}<sip:a@b.example>`, 'l: 0']),
      msg([`INVITE sip:${'%25'.repeat(2500)}@example.com SIP/2.0`, ...INVITE.slice(1), 'l: 0']),
      Buffer.from(`${'\r\n'.repeat(30_000)}INVITE`),
      Buffer.from(`INVITE sip:a@b SIP/2.0\r\n${' x\r\n'.repeat(20_000)}\r\n`),
    ];
    const t0 = performance.now();
    for (const c of cases) parseMessage(c);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
