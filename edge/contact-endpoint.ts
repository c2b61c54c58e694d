/**
 * Where to send a request for a SIP URI (RFC 3263 simplified for numeric hosts and loopback names):
 * host and port of the URI, `transport` parameter for TCP, UDP otherwise (RFC 3261 §18.1.1).
 */
import { tryParseSipUri } from '../sip/message/uri.ts';
import type { Endpoint } from '../sip/transport/types.ts';

export const endpointOfUri = (uri: string): Endpoint | undefined => {
  const u = tryParseSipUri(uri.replace(/^<|>$/g, ''));
  if (!u || (u.scheme !== 'sip' && u.scheme !== 'sips')) return undefined;
  const transportParam = u.params.get('transport');
  const transport =
    typeof transportParam === 'string' && transportParam.toLowerCase() === 'tcp' ? 'tcp' : 'udp';
  const host = u.host.replace(/^\[|\]$/g, '');
  const address = host.toLowerCase() === 'localhost' ? '127.0.0.1' : host;
  return { transport, address, port: u.port ?? 5060 };
};
