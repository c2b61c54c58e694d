/**
 * SIP message serializer (RFC 3261 §7): start line, header fields in order as `Name: value`, a
 * Content-Length computed from the body (replacing any given one, §20.14 — always present so the
 * message can go over stream transports, §18.3), the empty line, then the body. Line ends are CRLF.
 */
import type { SipMessage } from './types.ts';

/** The start line of a message (Request-Line §7.1 or Status-Line §7.2), without CRLF. */
export const startLineOf = (m: SipMessage): string =>
  m.kind === 'request'
    ? `${m.method} ${m.uri} ${m.version || 'SIP/2.0'}`
    : `${m.version || 'SIP/2.0'} ${m.status} ${m.reason}`;

/**
 * Serializes a message to bytes (UTF-8 text for the head). Header values must not contain CR or LF
 * (a value holding a line break would inject header fields); such values are written with the line
 * breaks replaced by SP.
 */
export const serializeMessage = (m: SipMessage): Buffer => {
  const parts: string[] = [startLineOf(m)];
  m.headers.forEach((name, value) => {
    if (name === 'Content-Length') return;
    parts.push(`${name}: ${/[\r\n]/.test(value) ? value.replace(/\r\n|[\r\n]/g, ' ') : value}`);
  });
  parts.push(`Content-Length: ${m.body.length}`, '', '');
  const head = Buffer.from(parts.join('\r\n'), 'utf8');
  return m.body.length === 0 ? head : Buffer.concat([head, m.body], head.length + m.body.length);
};
