/**
 * REGISTER (RFC 3261 §10.3): authenticated users bind contacts to their own MCPTT ID. Bindings
 * live in the system's store through the registration function.
 */
import { createResponse, parseNameAddr, parseNameAddrList } from '../sip/message/accessors.ts';
import type { SipRequest, SipResponse } from '../sip/message/types.ts';
import { newTag } from '../sip/transaction/random.ts';
import type { EdgeAuth } from './edge-auth.ts';
import type { FunctionsClient } from './functions-client.ts';

export const MIN_EXPIRES = 60;
export const MAX_EXPIRES = 7200;
export const DEFAULT_EXPIRES = 3600;

export interface RegistrarDeps {
  domain: string;
  auth: EdgeAuth;
  functions: Pick<FunctionsClient, 'register' | 'bindings'>;
  now: () => number;
}

const aorOf = (value: string | undefined): string | undefined => {
  if (!value) return undefined;
  try {
    const uri = parseNameAddr(value, 'To').uri;
    const m = /^sips?:([^@;?]+)@([^;?>:]+)/i.exec(uri);
    return m ? `sip:${m[1]}@${m[2]?.toLowerCase()}` : undefined;
  } catch {
    return undefined;
  }
};

export const handleRegister = async (req: SipRequest, deps: RegistrarDeps): Promise<SipResponse> => {
  const auth = await deps.auth.authenticate(req);
  if (!auth.ok) return auth.response;
  // §10.3 step 5/6: the To header names the address-of-record; only its owner may change it.
  const aor = aorOf(req.headers.get('To'));
  if (!aor) return createResponse(req, 400, 'Bad To Header');
  if (aor !== auth.mcpttId)
    return createResponse(req, 403, 'Forbidden', {
      headers: [['Warning', `399 ${deps.domain} "may only register ${auth.mcpttId}"`]],
    });

  const headerExpires = req.headers.get('Expires');
  const defaultExpires =
    headerExpires !== undefined && /^\s*\d+\s*$/.test(headerExpires)
      ? Number(headerExpires)
      : DEFAULT_EXPIRES;
  const contactFields = req.headers.getAll('Contact');
  const toTag = newTag();
  if (contactFields.some((c) => c.trim() === '*')) {
    // §10.3 step 6: "*" only alone and with Expires: 0.
    if (contactFields.length !== 1 || defaultExpires !== 0)
      return createResponse(req, 400, 'Invalid Contact *');
    await deps.functions.register(aor, '*', 0);
    return createResponse(req, 200, 'OK', { toTag });
  }
  let contacts: { uri: string; expires: number; instance?: string }[];
  try {
    contacts = contactFields
      .flatMap((f) => parseNameAddrList(f, 'Contact'))
      .map((n) => {
        const e = n.params.get('expires');
        const expires = e !== undefined && e !== null && /^\d+$/.test(e) ? Number(e) : defaultExpires;
        const instance = n.params.get('+sip.instance') ?? undefined;
        return { uri: n.uri, expires, ...(instance ? { instance: instance.replace(/^"|"$/g, '') } : {}) };
      });
  } catch {
    return createResponse(req, 400, 'Bad Contact');
  }
  // §10.3 step 7: too brief a registration gets 423 with our minimum.
  if (contacts.some((c) => c.expires > 0 && c.expires < MIN_EXPIRES)) {
    return createResponse(req, 423, 'Interval Too Brief', {
      headers: [['Min-Expires', String(MIN_EXPIRES)]],
    });
  }
  for (const c of contacts) {
    await deps.functions.register(aor, c.uri, Math.min(c.expires, MAX_EXPIRES), c.instance);
  }
  const { bindings } = await deps.functions.bindings(aor);
  const now = deps.now();
  // §10.3 step 8: the 200 lists every current binding with its remaining time.
  return createResponse(req, 200, 'OK', {
    toTag,
    headers: [
      ...bindings.map(
        (b) =>
          ['Contact', `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`] as [
            string,
            string,
          ],
      ),
      ['Date', new Date(now).toUTCString()],
    ],
  });
};
