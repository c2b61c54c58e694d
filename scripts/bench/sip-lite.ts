/**
 * The few SIP pieces the benchmark's user agents need, on the project's own stack: requests built as
 * `SipRequest` and written by sip/message/serializer.ts, messages read by sip/message/parser.ts,
 * digest answers computed with sip/auth/digest.ts (`expectedResponse`, RFC 7616 with qop=auth),
 * and a cheap look at a datagram's status and Call-ID for the responses that need no full parse.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type DigestAlgorithm, type DigestCredentials, expectedResponse } from '../../sip/auth/digest.ts';
import { serializeMessage } from '../../sip/message/serializer.ts';
import { SipHeaders, type SipRequest } from '../../sip/message/types.ts';

export const rand = (bytes = 6): string => randomBytes(bytes).toString('hex');

/** A minimal SDP (RFC 4566): one audio stream on loopback. */
export const sdp = (user: string, port = 49170): string =>
  [
    'v=0',
    `o=${user} 1 1 IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    '',
  ].join('\r\n');

/** The parameters of a `Digest …` challenge, names lower-cased. */
export const parseChallenge = (value: string): Map<string, string> => {
  const params = new Map<string, string>();
  const body = /^\s*Digest\s+(.*)$/is.exec(value)?.[1] ?? '';
  for (const m of body.matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params.set((m[1] ?? '').toLowerCase(), m[2] ?? m[3] ?? '');
  }
  return params;
};

/** A challenge kept to answer later requests (a new cnonce each time, so nc stays 1). */
export interface Challenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
}

export const challengeOf = (value: string): Challenge => {
  const c = parseChallenge(value);
  const opaque = c.get('opaque');
  return {
    realm: c.get('realm') ?? '',
    nonce: c.get('nonce') ?? '',
    algorithm: (c.get('algorithm') ?? 'MD5').toUpperCase() === 'SHA-256' ? 'SHA-256' : 'MD5',
    ...(opaque !== undefined ? { opaque } : {}),
  };
};

/** An (Proxy-)Authorization value answering `challenge` for `method` on `uri` (qop=auth). */
export const digestAuthorization = (
  challenge: Challenge,
  a: { username: string; password: string; method: string; uri: string },
): string => {
  const creds: DigestCredentials = {
    username: a.username,
    realm: challenge.realm,
    nonce: challenge.nonce,
    uri: a.uri,
    response: '',
    algorithm: challenge.algorithm,
    qop: 'auth',
    nc: '00000001',
    cnonce: rand(8),
  };
  const ha1 = createHash(challenge.algorithm === 'MD5' ? 'md5' : 'sha256')
    .update(`${a.username}:${challenge.realm}:${a.password}`)
    .digest('hex');
  const response = expectedResponse(ha1, a.method, creds);
  return [
    `Digest username="${a.username}"`,
    `realm="${challenge.realm}"`,
    `nonce="${challenge.nonce}"`,
    `uri="${a.uri}"`,
    `response="${response}"`,
    `algorithm=${challenge.algorithm}`,
    `cnonce="${creds.cnonce}"`,
    `nc=${creds.nc}`,
    'qop=auth',
    ...(challenge.opaque !== undefined ? [`opaque="${challenge.opaque}"`] : []),
  ].join(', ');
};

export interface RequestParts {
  method: string;
  uri: string;
  /** Our address in the Via (and default Contact). */
  local: { host: string; port: number };
  from: string;
  to: string;
  callId: string;
  cseq: number;
  contact?: string;
  headers?: [string, string][];
  body?: string;
  contentType?: string;
  branch?: string;
}

export const buildRequest = (p: RequestParts): SipRequest => {
  const h = new SipHeaders();
  h.add('Via', `SIP/2.0/UDP ${p.local.host}:${p.local.port};branch=${p.branch ?? `z9hG4bK${rand(8)}`};rport`);
  h.add('Max-Forwards', '70');
  h.add('From', p.from);
  h.add('To', p.to);
  h.add('Call-ID', p.callId);
  h.add('CSeq', `${p.cseq} ${p.method}`);
  if (p.contact) h.add('Contact', `<${p.contact}>`);
  for (const [n, v] of p.headers ?? []) h.add(n, v);
  if (p.contentType) h.add('Content-Type', p.contentType);
  return {
    kind: 'request',
    method: p.method,
    uri: p.uri,
    version: 'SIP/2.0',
    headers: h,
    body: Buffer.from(p.body ?? ''),
  };
};

export const bytesOf = (req: SipRequest): Buffer => serializeMessage(req);

const CALL_ID = /\r\n(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]+)/i;
const CSEQ = /\r\n(?:CSeq)[ \t]*:[ \t]*\d+[ \t]+([A-Za-z]+)/i;

/** Status (responses only), Call-ID and CSeq method of a datagram, without a full parse. */
export const peek = (buf: Buffer): { status?: number; callId?: string; cseqMethod?: string } => {
  const text = buf.toString('latin1', 0, Math.min(buf.length, 4096));
  const status = text.startsWith('SIP/2.0 ') ? Number(text.slice(8, 11)) : undefined;
  const callId = CALL_ID.exec(text)?.[1]?.trim();
  const cseqMethod = CSEQ.exec(text)?.[1]?.toUpperCase();
  return {
    ...(status !== undefined ? { status } : {}),
    ...(callId ? { callId } : {}),
    ...(cseqMethod ? { cseqMethod } : {}),
  };
};
