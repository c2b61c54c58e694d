import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SipParseError } from '../../../../sip/message/grammar.ts';
import {
  boundaryOf,
  buildMcpttBody,
  buildMultipart,
  extractMcpttBody,
  MCPTT_INFO_CONTENT_TYPE,
  parseMediaType,
  parseMultipart,
  partHeader,
  partType,
} from '../../../../sip/message/multipart.ts';
import { parseMessage } from '../../../../sip/message/parser.ts';
import { corpusDir } from './corpus.ts';

const crlf = (...lines: string[]) => Buffer.from(lines.join('\r\n'));

describe('Function: parseMediaType / boundaryOf', () => {
  it('parses type, subtype and parameters', () => {
    const mt = parseMediaType('Multipart/Mixed ; boundary="a b:c" ;charset=utf-8');
    expect(mt?.type).toBe('multipart/mixed');
    expect(mt?.params.get('boundary')).toBe('a b:c');
    expect(mt?.params.get('charset')).toBe('utf-8');
    expect(parseMediaType('application')).toBeUndefined();
    expect(parseMediaType('a/b;')).toBeUndefined();
  });

  it('reads quoted and unquoted boundaries and rejects invalid ones', () => {
    expect(boundaryOf('multipart/mixed;boundary=7a9cbec02ceef655')).toBe('7a9cbec02ceef655');
    expect(boundaryOf('multipart/mixed; boundary="simple boundary"')).toBe('simple boundary');
    expect(boundaryOf('multipart/mixed')).toBeUndefined();
    expect(boundaryOf(`multipart/mixed;boundary=${'x'.repeat(71)}`)).toBeUndefined();
    expect(boundaryOf('multipart/mixed;boundary="ends with space "')).toBeUndefined();
  });
});

describe('Function: parseMultipart (RFC 2046 §5.1.1)', () => {
  it('parses the RFC 4475 mpart01 body (text and binary parts)', () => {
    const r = parseMessage(readFileSync(`${corpusDir()}/mpart01.dat`));
    if (!r.ok) throw new Error(r.error);
    const parts = parseMultipart(r.message.body, r.message.headers.get('Content-Type') ?? '');
    expect(parts).toHaveLength(2);
    expect(partType(parts[0] ?? { headers: [], body: Buffer.alloc(0) })).toBe('text/plain');
    expect(parts[0]?.body.toString()).toBe('Hello');
    expect(partHeader(parts[1] ?? { headers: [], body: Buffer.alloc(0) }, 'content-transfer-encoding')).toBe(
      'binary',
    );
    expect(parts[1]?.body.length).toBe(342);
    expect(parts[1]?.body[0]).toBe(0x30);
  });

  it('skips preamble and epilogue, handles a part without headers and padding after the delimiter', () => {
    const body = crlf(
      'This is the preamble.',
      '--simple boundary  ',
      '',
      'no headers here',
      '--simple boundary',
      'Content-type: text/plain; charset=us-ascii',
      '',
      'explicit type',
      '--simple boundary--',
      'This is the epilogue.',
    );
    const parts = parseMultipart(body, 'multipart/mixed; boundary="simple boundary"');
    expect(parts.map((p) => [partType(p), p.body.toString()])).toEqual([
      ['text/plain', 'no headers here'],
      ['text/plain', 'explicit type'],
    ]);
    expect(parts[0]?.headers).toEqual([]);
  });

  it('does not split at a line that only starts with the boundary', () => {
    const body = crlf('--b', 'Content-Type: text/plain', '', 'x', '--bb is not it', '--b--');
    expect(parseMultipart(body, 'multipart/mixed;boundary=b')[0]?.body.toString()).toBe(
      'x\r\n--bb is not it',
    );
  });

  it.each([
    ['no boundary parameter', 'multipart/mixed', crlf('--b', '', 'x', '--b--')],
    ['no delimiter', 'multipart/mixed;boundary=b', crlf('just text')],
    ['no close delimiter', 'multipart/mixed;boundary=b', crlf('--b', '', 'x')],
    ['a bad part header', 'multipart/mixed;boundary=b', crlf('--b', 'no colon here', '', 'x', '--b--')],
  ])('rejects %s', (_what, ct, body) => {
    expect(() => parseMultipart(body, ct)).toThrow(SipParseError);
  });
});

describe('Function: buildMultipart / MCPTT helpers', () => {
  const sdp =
    'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
  const info =
    '<?xml version="1.0" encoding="UTF-8"?>\r\n<mcpttinfo xmlns="urn:3gpp:ns:mcpttInfo:1.0"><mcptt-Params><session-type>prearranged</session-type></mcptt-Params></mcpttinfo>';

  it('builds an SDP + mcptt-info body that parses back', () => {
    const { contentType, body } = buildMcpttBody(sdp, info, [], 'boundary1');
    expect(contentType).toBe('multipart/mixed;boundary=boundary1');
    expect(body.toString()).toBe(
      `--boundary1\r\nContent-Type: application/sdp\r\n\r\n${sdp}\r\n--boundary1\r\nContent-Type: ${MCPTT_INFO_CONTENT_TYPE}\r\n\r\n${info}\r\n--boundary1--\r\n`,
    );
    const got = extractMcpttBody(contentType, body);
    expect(got.sdp?.toString()).toBe(sdp);
    expect(got.mcpttInfo?.toString()).toBe(info);
    expect(got.parts).toHaveLength(2);
  });

  it('extracts single-part bodies too', () => {
    expect(extractMcpttBody('application/sdp', Buffer.from(sdp)).sdp?.toString()).toBe(sdp);
    expect(
      extractMcpttBody(`${MCPTT_INFO_CONTENT_TYPE};charset=utf-8`, Buffer.from(info)).mcpttInfo?.toString(),
    ).toBe(info);
    expect(extractMcpttBody(undefined, Buffer.alloc(0))).toEqual({ parts: [] });
  });

  it('chooses a random boundary absent from the parts, quotes boundaries that need it', () => {
    const a = buildMultipart([{ headers: [], body: Buffer.from('x') }]);
    const b = buildMultipart([{ headers: [], body: Buffer.from('x') }]);
    expect(boundaryOf(a.contentType)).not.toBe(boundaryOf(b.contentType));
    expect(buildMultipart([], 'a b').contentType).toBe('multipart/mixed;boundary="a b"');
    expect(() => buildMultipart([{ headers: [], body: Buffer.from('--zz') }], 'zz')).toThrow(RangeError);
  });

  it('round-trips arbitrary binary parts (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('application/sdp', 'text/plain', 'application/octet-stream'),
            fc.uint8Array({ maxLength: 200 }),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        (spec) => {
          const parts = spec.map(([t, b]) => ({
            headers: [['Content-Type', t]] as [string, string][],
            body: Buffer.from(b),
          }));
          const { contentType, body } = buildMultipart(parts);
          const back = parseMultipart(body, contentType);
          expect(back.map((p) => [partType(p), p.body.toString('hex')])).toEqual(
            spec.map(([t, b]) => [t, Buffer.from(b).toString('hex')]),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
