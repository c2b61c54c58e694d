import { describe, expect, it } from 'vitest';
import {
  callIdOf,
  createResponse,
  cseqOf,
  defaultReasonPhrase,
  formatNameAddr,
  formatVia,
  fromTag,
  parseCSeq,
  parseNameAddr,
  parseNameAddrList,
  parseVia,
  SipParseError,
  splitHeaderValues,
  tagOf,
  topVia,
  toTag,
  viaBranch,
} from '../../../../sip/message/accessors.ts';
import { SipHeaders, type SipRequest } from '../../../../sip/message/types.ts';

const request = (headers: [string, string][]): SipRequest => ({
  kind: 'request',
  method: 'INVITE',
  uri: 'sip:bob@example.com',
  version: 'SIP/2.0',
  headers: new SipHeaders(headers),
  body: Buffer.alloc(0),
});

describe('Function: parseVia', () => {
  it('parses a plain via-parm', () => {
    const [v, ...rest] = parseVia('SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport');
    expect(rest).toHaveLength(0);
    expect(v).toEqual({
      protocol: 'SIP/2.0',
      transport: 'UDP',
      host: '192.0.2.1',
      port: 5060,
      params: new Map([
        ['branch', 'z9hG4bK776asdhds'],
        ['rport', null],
      ]),
    });
  });

  it('accepts white space around "/", ";", "=" and "," (RFC 4475 wsinv)', () => {
    const vias = parseVia(
      'SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239',
    );
    expect(vias.map(formatVia)).toEqual([
      'SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8',
      'SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239',
    ]);
  });

  it('upper-cases the transport and protocol name, keeps IPv6 references', () => {
    const [v] = parseVia('sip/2.0/tls [2001:db8::1]:5061;received=2001:db8::9;maddr=224.2.0.1;ttl=16');
    expect(v?.protocol).toBe('SIP/2.0');
    expect(v?.transport).toBe('TLS');
    expect(v?.host).toBe('[2001:db8::1]');
    expect(v?.port).toBe(5061);
    expect(v?.params.get('received')).toBe('2001:db8::9');
  });

  it.each([
    ['empty parameters (RFC 4475 badinv01)', 'SIP/2.0/UDP 192.0.2.15;;,;,,'],
    ['no sent-by', 'SIP/2.0/UDP'],
    ['no white space before sent-by', 'SIP/2.0/UDPhost.example.com'],
    ['missing transport', 'SIP/2.0 host.example.com'],
    ['bad host', 'SIP/2.0/UDP host_name.example.com'],
    ['bad IPv6 reference', 'SIP/2.0/UDP [2001:db8::zz]'],
    ['port out of range', 'SIP/2.0/UDP host:70000'],
    ['empty port', 'SIP/2.0/UDP host:;branch=z9hG4bK1'],
    ['received not an IP address', 'SIP/2.0/UDP host;received=example.com'],
    ['ttl too large', 'SIP/2.0/UDP host;ttl=256'],
    ['quoted branch', 'SIP/2.0/UDP host;branch="z9hG4bK1"'],
    ['branch without value', 'SIP/2.0/UDP host;branch'],
    ['trailing comma', 'SIP/2.0/UDP host;branch=z9hG4bK1,'],
    ['garbage after host', 'SIP/2.0/UDP host junk'],
  ])('rejects %s', (_what, value) => {
    expect(() => parseVia(value)).toThrow(SipParseError);
  });

  it('round-trips through formatVia', () => {
    const text = 'SIP/2.0/TCP pc33.example.com:5070;branch=z9hG4bKx;received=192.0.2.4;rport=5071';
    const [v] = parseVia(text);
    expect(v && formatVia(v)).toBe(text);
  });
});

describe('Function: topVia / viaBranch', () => {
  it('returns the first value of the first Via field', () => {
    const m = request([
      ['Via', 'SIP/2.0/UDP a.example.com;branch=z9hG4bKa, SIP/2.0/UDP b.example.com;branch=z9hG4bKb'],
      ['Via', 'SIP/2.0/UDP c.example.com;branch=z9hG4bKc'],
    ]);
    const v = topVia(m);
    expect(v?.host).toBe('a.example.com');
    expect(v && viaBranch(v)).toBe('z9hG4bKa');
  });

  it('is undefined without a Via or with a garbage one', () => {
    expect(topVia(request([]))).toBeUndefined();
    expect(topVia(request([['Via', 'garbage']]))).toBeUndefined();
  });

  it('viaBranch is undefined without a branch (RFC 2543 peers)', () => {
    const [v] = parseVia('SIP/2.0/UDP iftgw.example.com');
    expect(v && viaBranch(v)).toBeUndefined();
  });
});

describe('Function: parseCSeq / cseqOf', () => {
  it('parses number and method, tolerating folding white space and leading zeros', () => {
    expect(parseCSeq('0009 INVITE')).toEqual({ seq: 9, method: 'INVITE' });
    expect(parseCSeq('  4711\t  REGISTER ')).toEqual({ seq: 4711, method: 'REGISTER' });
    expect(parseCSeq('4294967295 ACK')).toEqual({ seq: 4294967295, method: 'ACK' });
  });

  it.each([
    ['too large for 32 bits (RFC 4475 scalar02)', '36893488147419103232 REGISTER'],
    ['2**32', '4294967296 INVITE'],
    ['missing method', '1'],
    ['no white space', '1INVITE'],
    ['negative', '-1 INVITE'],
    ['two methods', '1 INVITE BYE'],
    ['method not a token', '1 INV@TE'],
  ])('rejects %s', (_what, v) => {
    expect(() => parseCSeq(v)).toThrow(SipParseError);
  });

  it('cseqOf reads the message and throws when CSeq is missing', () => {
    expect(cseqOf(request([['CSeq', '3 BYE']]))).toEqual({ seq: 3, method: 'BYE' });
    expect(() => cseqOf(request([]))).toThrow(SipParseError);
  });
});

describe('Function: callIdOf', () => {
  it('returns the trimmed Call-ID, or an empty string when absent', () => {
    expect(callIdOf(request([['i', ' abc@host ']]))).toBe('abc@host');
    expect(callIdOf(request([]))).toBe('');
  });
});

describe('Function: parseNameAddr', () => {
  it('parses a quoted display name with escapes', () => {
    const na = parseNameAddr('"J Rosenberg \\\\\\""       <sip:jdrosen@example.com> ; tag = 98asjd8');
    expect(na).toEqual({
      displayName: 'J Rosenberg \\"',
      uri: 'sip:jdrosen@example.com',
      params: new Map([['tag', '98asjd8']]),
    });
  });

  it('parses an addr-spec whose parameters are header parameters (RFC 3261 §20.10)', () => {
    const na = parseNameAddr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
    expect(na.displayName).toBeUndefined();
    expect(na.uri).toBe('sip:vivekg@chair-dnrc.example.com');
    expect(na.params.get('tag')).toBe('1918181833n');
  });

  it('parses a display name made of tokens', () => {
    expect(parseNameAddr("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>").displayName).toBe(
      "token1~` token2'+_ token3*%!.-",
    );
  });

  it('tolerates a missing LWS between display name and "<" (RFC 4475 lwsdisp)', () => {
    expect(parseNameAddr('caller<sip:caller@example.com>;tag=323')).toMatchObject({
      displayName: 'caller',
      uri: 'sip:caller@example.com',
    });
  });

  it('accepts other URI schemes (RFC 4475 unksm2)', () => {
    expect(parseNameAddr('isbn:2983792873').uri).toBe('isbn:2983792873');
    expect(parseNameAddr('<http://www.example.com>;tag=3234233').uri).toBe('http://www.example.com');
  });

  it('keeps URI parameters inside angle brackets', () => {
    const na = parseNameAddr('<sip:alice@atlanta.com;transport=tcp>;tag=1;expires=60');
    expect(na.uri).toBe('sip:alice@atlanta.com;transport=tcp');
    expect([...na.params.keys()]).toEqual(['tag', 'expires']);
  });

  it('keeps quoted parameter values with their quotes', () => {
    expect(
      parseNameAddr('<sip:a@b.example>;+sip.instance="<urn:uuid:1234>"').params.get('+sip.instance'),
    ).toBe('"<urn:uuid:1234>"');
  });

  it.each([
    ['white space inside <> (RFC 4475 badaspec)', '"Watson, Thomas" < sip:t.watson@example.org >'],
    [
      'unquoted comma in the display name (RFC 4475 baddn)',
      'Bell, Alexander <sip:a.g.bell@example.com>;tag=43',
    ],
    ['unterminated quote (RFC 4475 quotbal)', '"Mr. J. User <sip:j.user@example.com>'],
    ['URI headers outside <> (RFC 4475 regbadct)', 'sip:user@example.com?Route=%3Csip:sip.example.com%3E'],
    ['missing ">"', '<sip:user@example.com'],
    ['empty', ''],
    ['two addresses', 'sip:a@example.com, sip:b@example.com'],
    ['bad host', '<sip:user@exa mple.com>'],
    ['empty parameter', '<sip:user@example.com>;;tag=1'],
    ['raw control character in a quoted string', '"a\u0001b" <sip:a@example.com>'],
  ])('rejects %s', (_what, v) => {
    expect(() => parseNameAddr(v)).toThrow(SipParseError);
  });

  it('formatNameAddr writes a quoted display name and a bracketed URI', () => {
    const na = parseNameAddr('Bob <sip:bob@biloxi.com>;tag=a6c85cf');
    expect(formatNameAddr(na)).toBe('"Bob" <sip:bob@biloxi.com>;tag=a6c85cf');
    expect(formatNameAddr({ displayName: 'A "q" \\', uri: 'sip:a@b.example', params: new Map() })).toBe(
      '"A \\"q\\" \\\\" <sip:a@b.example>',
    );
    const round = parseNameAddr(
      formatNameAddr({ displayName: 'A "q" \\', uri: 'sip:a@b.example', params: new Map() }),
    );
    expect(round.displayName).toBe('A "q" \\');
  });
});

describe('Function: parseNameAddrList', () => {
  it('splits Contact values at commas outside quotes and brackets', () => {
    const list = parseNameAddrList(
      '"A, B" <sip:a@example.com;x=1>;q=0.7, <sip:b@example.com>, sip:c@example.com',
    );
    expect(list.map((n) => n.uri)).toEqual([
      'sip:a@example.com;x=1',
      'sip:b@example.com',
      'sip:c@example.com',
    ]);
    expect(list[0]?.displayName).toBe('A, B');
  });

  it('rejects a dangling comma', () => {
    expect(() => parseNameAddrList('<sip:a@example.com>,')).toThrow(SipParseError);
  });
});

describe('Function: tagOf / fromTag / toTag', () => {
  it('reads tags of From and To', () => {
    const m = request([
      ['From', '"Alice" <sip:alice@atlanta.com>;tag=1928301774'],
      ['To', 'sip:bob@biloxi.com'],
    ]);
    expect(fromTag(m)).toBe('1928301774');
    expect(toTag(m)).toBeUndefined();
    expect(tagOf('<sip:a@b.example>;TAG=x')).toBe('x');
    expect(tagOf('garbage <')).toBeUndefined();
    expect(fromTag(request([]))).toBeUndefined();
  });
});

describe('Function: splitHeaderValues', () => {
  it('splits at commas outside quotes and <>', () => {
    expect(splitHeaderValues('"a,\\"b" <sip:x,y@example.com>, c ,, d')).toEqual([
      '"a,\\"b" <sip:x,y@example.com>',
      'c',
      'd',
    ]);
    expect(splitHeaderValues('')).toEqual([]);
    expect(splitHeaderValues('INVITE, ACK,BYE')).toEqual(['INVITE', 'ACK', 'BYE']);
  });
});

describe('Function: createResponse', () => {
  const req = request([
    ['Via', 'SIP/2.0/UDP a.example.com;branch=z9hG4bKa'],
    ['Max-Forwards', '70'],
    ['Via', 'SIP/2.0/UDP b.example.com;branch=z9hG4bKb'],
    ['To', 'Bob <sip:bob@biloxi.com>'],
    ['From', 'Alice <sip:alice@atlanta.com>;tag=1928301774'],
    ['Call-ID', 'a84b4c76e66710'],
    ['CSeq', '314159 INVITE'],
    ['Timestamp', '54'],
    ['Contact', '<sip:alice@pc33.atlanta.com>'],
  ]);

  it('copies Via (all, in order), From, To, Call-ID, CSeq (RFC 3261 §8.2.6.2)', () => {
    const r = createResponse(req, 486);
    expect(r).toMatchObject({ kind: 'response', status: 486, reason: 'Busy Here', version: 'SIP/2.0' });
    expect(r.headers.entries).toEqual([
      ['Via', 'SIP/2.0/UDP a.example.com;branch=z9hG4bKa'],
      ['Via', 'SIP/2.0/UDP b.example.com;branch=z9hG4bKb'],
      ['From', 'Alice <sip:alice@atlanta.com>;tag=1928301774'],
      ['To', 'Bob <sip:bob@biloxi.com>'],
      ['Call-ID', 'a84b4c76e66710'],
      ['CSeq', '314159 INVITE'],
    ]);
    expect(r.body.length).toBe(0);
  });

  it('adds the To tag only when To has none', () => {
    expect(createResponse(req, 200, 'OK', { toTag: 'xyz' }).headers.get('To')).toBe(
      'Bob <sip:bob@biloxi.com>;tag=xyz',
    );
    const tagged = request([['To', '<sip:bob@biloxi.com>;tag=old']]);
    expect(createResponse(tagged, 200, undefined, { toTag: 'new' }).headers.get('To')).toBe(
      '<sip:bob@biloxi.com>;tag=old',
    );
  });

  it('copies Timestamp into a 100 Trying (§8.2.6.1) only', () => {
    expect(createResponse(req, 100).headers.get('Timestamp')).toBe('54');
    expect(createResponse(req, 180).headers.get('Timestamp')).toBeUndefined();
  });

  it('appends extra headers, Content-Type and body', () => {
    const r = createResponse(req, 200, 'Fine', {
      headers: [['Contact', '<sip:srv@example.com>']],
      body: Buffer.from('v=0\r\n'),
      contentType: 'application/sdp',
    });
    expect(r.reason).toBe('Fine');
    expect(r.headers.get('Contact')).toBe('<sip:srv@example.com>');
    expect(r.headers.get('Content-Type')).toBe('application/sdp');
    expect(r.body.toString()).toBe('v=0\r\n');
  });

  it('has default reason phrases', () => {
    expect(defaultReasonPhrase(100)).toBe('Trying');
    expect(defaultReasonPhrase(481)).toBe('Call/Transaction Does Not Exist');
    expect(defaultReasonPhrase(499)).toBe('Client Error');
    expect(defaultReasonPhrase(699)).toBe('Global Failure');
  });

  it('refuses a status outside 100-699', () => {
    expect(() => createResponse(req, 99)).toThrow(RangeError);
    expect(() => createResponse(req, 700)).toThrow(RangeError);
    expect(() => createResponse(req, 200.5)).toThrow(RangeError);
  });
});
