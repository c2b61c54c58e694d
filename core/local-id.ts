import { badRequest } from './errors.ts';
import { domainOf, normalizeSipUri } from './ids.ts';
import type { SipUri, SystemDomain } from './model.ts';

/**
 * Normalizes the identity of a user or group that this system hosts (`alice`, `alice@host` or
 * `sip:alice@host`); identities hosted by another system are managed there, so they are refused.
 */
export const localIdentity = (input: string, system: SystemDomain, kind: 'user' | 'group'): SipUri => {
  const id = normalizeSipUri(input, system);
  if (domainOf(id) !== system) throw badRequest(`${id} is not a ${kind} of ${system}`);
  return id;
};
