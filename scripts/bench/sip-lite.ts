/**
 * The few SIP pieces the benchmark's user agents need, on the project's own stack: requests built as
 * `SipRequest` and written by sip/message/serializer.ts, and a cheap look at a datagram's status and
 * Call-ID for the responses that need no full parse. Digest answers come from
 * sip/auth/digest-client.ts (a challenge is kept and answered again with a new cnonce, so nc stays 1).
 */
import { randomBytes } from 'node:crypto';
import { serializeMessage } from '../../sip/message/serializer.ts';
import { SipHeaders, type SipRequest } from '../../sip/message/types.ts';

export const rand = (bytes = 6): string => randomBytes(bytes).toString('hex');

export { sdp } from '../../test/support/sdp.ts';

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
