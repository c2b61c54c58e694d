import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../../sip/message/parser.ts';
import { serializeMessage, startLineOf } from '../../../../sip/message/serializer.ts';
import { SipHeaders, type SipMessage } from '../../../../sip/message/types.ts';
import { arbMessage } from './arbitraries.ts';

describe('Function: serializeMessage', () => {
  it('writes start line, headers in order, Content-Length from the body, CRLF, body', () => {
    const m: SipMessage = {
      kind: 'request',
      method: 'MESSAGE',
      uri: 'sip:bob@biloxi.com',
      version: 'SIP/2.0',
      headers: new SipHeaders([
        ['v', 'SIP/2.0/UDP a.example.com;branch=z9hG4bK1'],
        ['Content-Length', '999'],
        ['CSeq', '1 MESSAGE'],
        ['c', 'text/plain'],
      ]),
      body: Buffer.from('héllo'),
    };
    expect(serializeMessage(m).toString()).toBe(
      'MESSAGE sip:bob@biloxi.com SIP/2.0\r\n' +
        'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n' +
        'CSeq: 1 MESSAGE\r\n' +
        'Content-Type: text/plain\r\n' +
        'Content-Length: 6\r\n' +
        '\r\n' +
        'héllo',
    );
  });

  it('writes a response status line and Content-Length: 0 without body', () => {
    const m: SipMessage = {
      kind: 'response',
      status: 100,
      reason: '',
      version: 'SIP/2.0',
      headers: new SipHeaders(),
      body: Buffer.alloc(0),
    };
    expect(startLineOf(m)).toBe('SIP/2.0 100 ');
    expect(serializeMessage(m).toString()).toBe('SIP/2.0 100 \r\nContent-Length: 0\r\n\r\n');
  });

  it('cannot be made to inject header fields through a value with line breaks', () => {
    const m: SipMessage = {
      kind: 'response',
      status: 200,
      reason: 'OK',
      version: 'SIP/2.0',
      headers: new SipHeaders([['Subject', 'a\r\nVia: evil']]),
      body: Buffer.alloc(0),
    };
    expect(serializeMessage(m).toString()).toContain('Subject: a Via: evil\r\n');
  });
});

describe('Property: parse/serialize round trip', () => {
  it('parse(serialize(m)) gives m back (plus Content-Length) and serialize is stable', () => {
    fc.assert(
      fc.property(arbMessage, fc.constantFrom<'udp' | 'tcp'>('udp', 'tcp'), (m, transport) => {
        const wire = serializeMessage(m);
        const r = parseMessage(wire, { transport });
        if (!r.ok) throw new Error(`${r.error}\n${wire.toString()}`);
        const p = r.message;
        expect(p.kind).toBe(m.kind);
        if (p.kind === 'request' && m.kind === 'request') {
          expect(p.method).toBe(m.method);
          expect(p.uri).toBe(m.uri);
        }
        if (p.kind === 'response' && m.kind === 'response') {
          expect(p.status).toBe(m.status);
          expect(p.reason).toBe(m.reason);
        }
        expect(p.body.equals(m.body)).toBe(true);
        expect(p.headers.entries).toEqual([...m.headers.entries, ['Content-Length', String(m.body.length)]]);
        expect(serializeMessage(p).equals(wire)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
