/**
 * Transport layer contract (RFC 3261 §18), as specified in sip/CONTRACTS.md. Written by the
 * transaction engineer because the transaction layer codes against it; the transport engineer owns it.
 *
 * Everything in the contract is unchanged; additions are optional members and helper types only.
 */
import type { SipMessage } from '../message/types.ts';

export type TransportName = 'udp' | 'tcp';

export interface Endpoint {
  transport: TransportName;
  address: string;
  port: number;
}

export interface InboundMessage {
  /**
   * The parsed message. For requests the top Via has already been stamped with `received` /
   * `rport` (RFC 3261 §18.2.1, RFC 3581 §4), so a response built from it routes correctly.
   */
  message: SipMessage;
  /** Where the bytes came from (for TCP: the remote end of the connection). */
  source: Endpoint;
  /** The bytes exactly as received (NOT rewritten by §18.2.1). */
  raw: Buffer;
  /** For stream transports: the connection the message arrived on. */
  connectionId?: string;
}

/** Receives every valid message. */
export type MessageHandler = (m: InboundMessage) => void;
/** Receives unparseable datagrams / framed messages, and the bytes of a connection closed for a framing error. */
export type InvalidHandler = (raw: Buffer, error: string, source: Endpoint) => void;
/**
 * Receives errors that do not belong to a `send()` call: socket errors, connections dropped
 * (framing error, backpressure cap, reset), exceptions thrown by handlers. Never fatal.
 */
export type TransportErrorHandler = (error: Error, context: TransportErrorContext) => void;

export interface TransportErrorContext {
  transport: TransportName;
  /** The remote end, when the error concerns one connection / peer. */
  remote?: Endpoint;
  connectionId?: string;
}

export interface SipTransportLayer {
  /**
   * Sends a message. Requests go to `to`. For a response, `to` is the source of the request
   * (`InboundMessage.source`) and the destination follows RFC 3261 §18.2.2 (see
   * `responseDestination`). Resolves once the bytes were handed to the socket (or queued behind
   * backpressure); rejects on a transport error (connection refused, datagram too large, cap …).
   */
  send(m: SipMessage, to: Endpoint): Promise<void> | void;
  reliable(t: TransportName): boolean;
  local(t: TransportName): Endpoint;
  onMessage(cb: (m: InboundMessage) => void): void;
  onInvalid(cb: (raw: Buffer, error: string, source: Endpoint) => void): void;
  /** Optional: errors not tied to a `send()` call (see `TransportErrorHandler`). */
  onError?(cb: TransportErrorHandler): void;
  close(): Promise<void>;
}

/** Formats an endpoint as the connection-reuse key `address:port` (`[v6]:port` for IPv6). */
export const endpointKey = (address: string, port: number): string =>
  address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
