import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../../sip/message/parser.ts';
import { serializeMessage } from '../../../../sip/message/serializer.ts';
import { SipStreamFramer } from '../../../../sip/message/stream-framer.ts';
import { arbMessage } from './arbitraries.ts';

const message = (body = '', extra: string[] = []): Buffer =>
  Buffer.from(
    [
      'MESSAGE sip:bob@biloxi.com SIP/2.0',
      'Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK1',
      'CSeq: 1 MESSAGE',
      ...extra,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n'),
  );

const feedAll = (f: SipStreamFramer, chunks: Buffer[]) => {
  const messages: Buffer[] = [];
  let error: string | undefined;
  let keepAlives = 0;
  for (const c of chunks) {
    const r = f.push(c);
    messages.push(...r.messages);
    keepAlives += r.keepAlives ?? 0;
    error ??= r.error;
  }
  return { messages, error, keepAlives };
};

describe('Class: SipStreamFramer', () => {
  it('emits a whole message from one chunk', () => {
    const m = message('hello');
    const r = new SipStreamFramer().push(m);
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0]?.equals(m)).toBe(true);
    expect(r.error).toBeUndefined();
  });

  it('emits several messages from one chunk, skipping CRLF keep-alives (RFC 5626 §3.5.1)', () => {
    const a = message('a');
    const b = message('bb');
    const f = new SipStreamFramer();
    const r = f.push(
      Buffer.concat([Buffer.from('\r\n\r\n'), a, Buffer.from('\r\n'), b, Buffer.from('\r\n\r\n')]),
    );
    expect(r.messages.map((x) => x.toString())).toEqual([a.toString(), b.toString()]);
    expect(r.keepAlives).toBe(2);
    expect(f.buffered).toBe(0);
  });

  it('reassembles a message split into single bytes', () => {
    const m = message('split body with \r\n\r\n inside');
    const f = new SipStreamFramer();
    const { messages } = feedAll(
      f,
      [...m].map((b) => Buffer.from([b])),
    );
    expect(messages).toHaveLength(1);
    expect(messages[0]?.equals(m)).toBe(true);
  });

  it('handles messages over 64 KiB', () => {
    const body = 'x'.repeat(200_000);
    const m = message(body);
    const f = new SipStreamFramer();
    const chunks: Buffer[] = [];
    for (let i = 0; i < m.length; i += 1400) chunks.push(m.subarray(i, i + 1400));
    const { messages, error } = feedAll(f, chunks);
    expect(error).toBeUndefined();
    expect(messages[0]?.length).toBe(m.length);
    const parsed = parseMessage(messages[0] ?? Buffer.alloc(0), { transport: 'tcp' });
    expect(parsed.ok && parsed.message.body.length).toBe(200_000);
  });

  it('reads the compact form and a folded Content-Length', () => {
    const raw = Buffer.from('OPTIONS sip:a@b.example SIP/2.0\r\nl:\r\n 3\r\n\r\nabcOPTIONS');
    const r = new SipStreamFramer().push(raw);
    expect(r.messages.map(String)).toEqual(['OPTIONS sip:a@b.example SIP/2.0\r\nl:\r\n 3\r\n\r\nabc']);
  });

  it('fails without Content-Length (mandatory on TCP, RFC 3261 §18.3), and stays failed until reset', () => {
    const f = new SipStreamFramer();
    const r = f.push(Buffer.from('OPTIONS sip:a@b.example SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n'));
    expect(r.error).toMatch(/Content-Length missing/);
    expect(f.push(message()).error).toMatch(/Content-Length missing/);
    f.reset();
    expect(f.push(message()).messages).toHaveLength(1);
  });

  it.each([
    ['non-numeric', ['Content-Length: -1']],
    ['conflicting', ['Content-Length: 5', 'l: 6']],
  ])('fails on a %s Content-Length', (_what, lines) => {
    const raw = Buffer.from(['OPTIONS sip:a@b.example SIP/2.0', ...lines, '', ''].join('\r\n'));
    expect(new SipStreamFramer().push(raw).error).toBeDefined();
  });

  it('fails on oversize messages and oversize header sections', () => {
    const f = new SipStreamFramer({ maxMessageSize: 1000 });
    expect(f.push(message('x'.repeat(2000))).error).toMatch(/exceeds the maximum|larger than 1000/);
    const g = new SipStreamFramer({ maxHeaderSize: 100 });
    expect(g.push(Buffer.from(`OPTIONS sip:a@b.example SIP/2.0\r\nX: ${'y'.repeat(200)}`)).error).toMatch(
      /header section/,
    );
    const h = new SipStreamFramer({ maxHeaderSize: 100 });
    const parts = [
      Buffer.from('OPTIONS sip:a@b.example SIP/2.0\r\n'),
      ...Array.from({ length: 10 }, () => Buffer.from('X: yyyyyyyy\r\n')),
    ];
    expect(feedAll(h, parts).error).toMatch(/header section/);
    expect(
      new SipStreamFramer({ maxMessageSize: 1000 }).push(
        message('', ['Content-Length: 99999999999999999999']),
      ).error,
    ).toBeDefined();
  });

  it('random chunking gives the same messages (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbMessage, fc.constantFrom('', '\r\n', '\r\n\r\n')), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
        (items, sizes) => {
          const wires = items.map(([m]) => serializeMessage(m));
          const stream = Buffer.concat(
            items.flatMap(([, ka], i) => [Buffer.from(ka), wires[i] ?? Buffer.alloc(0)]),
          );
          const chunks: Buffer[] = [];
          for (let pos = 0, k = 0; pos < stream.length; k++) {
            const n = sizes[k % sizes.length] ?? 1;
            chunks.push(stream.subarray(pos, pos + n));
            pos += n;
          }
          const f = new SipStreamFramer();
          const { messages, error } = feedAll(f, chunks);
          expect(error).toBeUndefined();
          expect(messages.map((b) => b.toString('hex'))).toEqual(wires.map((b) => b.toString('hex')));
          expect(f.buffered).toBe(0);
          for (const m of messages) expect(parseMessage(m, { transport: 'tcp' }).ok).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
