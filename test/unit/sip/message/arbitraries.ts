/** fast-check generators of valid SIP messages, shared by the serializer and framer property tests. */
import fc from 'fast-check';
import { SipHeaders, type SipMessage } from '../../../../sip/message/types.ts';

const token = fc.stringMatching(/^[A-Za-z0-9\-.!%*_+`'~]{1,12}$/);
const hostname = fc
  .array(fc.stringMatching(/^[a-z]([a-z0-9-]{0,6}[a-z0-9])?$/), { minLength: 1, maxLength: 3 })
  .map((l) => l.join('.'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const host = fc.oneof(hostname, ipv4, fc.constant('[2001:db8::1]'));
const user = fc.stringMatching(/^[a-z0-9_.+-]{1,10}$/);
const sipUri = fc
  .tuple(
    fc.constantFrom('sip', 'sips'),
    fc.option(user, { nil: undefined }),
    host,
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  )
  .map(([s, u, h, p]) => `${s}:${u !== undefined ? `${u}@` : ''}${h}${p !== undefined ? `:${p}` : ''}`);
const method = fc.oneof(
  fc.constantFrom('INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'MESSAGE', 'INFO'),
  token,
);
/** TEXT-UTF8 without control characters, trimmed, possibly empty. */
const text = fc
  .string({ unit: fc.constantFrom(...'abcXYZ 019!#$%&()*+,-./:;<=>?@[]^_{|}~"\'\\é☎中'), maxLength: 30 })
  .map((s) => s.trim());
const displayName = fc.option(
  fc
    .string({ unit: fc.constantFrom(...'abc XYZ"\\,é'), maxLength: 12 })
    .map((s) => `"${s.replace(/["\\]/g, '\\$&')}" `),
  { nil: '' },
);
const nameAddr = fc
  .tuple(displayName, sipUri, fc.option(token, { nil: undefined }))
  .map(([d, u, t]) => `${d}<${u}>${t !== undefined ? `;tag=${t}` : ''}`);
const via = fc
  .tuple(fc.constantFrom('UDP', 'TCP', 'TLS'), host, token)
  .map(([t, h, b]) => `SIP/2.0/${t} ${h};branch=z9hG4bK${b}`);
const extension = fc.tuple(fc.stringMatching(/^X-[A-Za-z0-9-]{1,10}$/), text);
const body = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));

const headersFor = (cseqMethod: fc.Arbitrary<string>) =>
  fc
    .tuple(
      fc.array(via, { minLength: 1, maxLength: 3 }),
      nameAddr,
      nameAddr,
      fc.stringMatching(/^[a-zA-Z0-9\-.!%*_+`'~()<>:\\/[\]?{}]{1,20}(@[a-z0-9.]{1,10})?$/),
      fc.tuple(fc.nat(0xffffffff), cseqMethod),
      fc.nat(255),
      fc.array(extension, { maxLength: 5 }),
      fc.option(
        fc.constantFrom('application/sdp', 'text/plain;charset=utf-8', 'multipart/mixed;boundary="a b"'),
        {
          nil: undefined,
        },
      ),
    )
    .map(([vias, from, to, callId, [seq, m], mf, ext, ct]) => {
      const h = new SipHeaders();
      for (const v of vias) h.add('Via', v);
      h.add('Max-Forwards', String(mf));
      h.add('From', from);
      h.add('To', to);
      h.add('Call-ID', callId);
      h.add('CSeq', `${seq} ${m}`);
      for (const [n, v] of ext) h.add(n, v);
      if (ct !== undefined) h.add('Content-Type', ct);
      return h;
    });

/** A valid request. */
export const arbRequest: fc.Arbitrary<SipMessage> = method.chain((m) =>
  fc.tuple(sipUri, headersFor(fc.constant(m)), body).map(
    ([uri, headers, b]): SipMessage => ({
      kind: 'request',
      method: m,
      uri,
      version: 'SIP/2.0',
      headers,
      body: b,
    }),
  ),
);

/** A valid response. */
export const arbResponse: fc.Arbitrary<SipMessage> = fc
  .tuple(
    fc.integer({ min: 100, max: 699 }),
    fc.string({ unit: fc.constantFrom(..."abc XYZ 09-_.!~*'();/?:@&=+$,é"), maxLength: 20 }),
    headersFor(method),
    body,
  )
  .map(
    ([status, reason, headers, b]): SipMessage => ({
      kind: 'response',
      status,
      reason,
      version: 'SIP/2.0',
      headers,
      body: b,
    }),
  );

/** A valid request or response. */
export const arbMessage: fc.Arbitrary<SipMessage> = fc.oneof(arbRequest, arbResponse);
