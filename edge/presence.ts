/**
 * PUBLISH of affiliation (TS 24.379 §9.2.1.2; RFC 3903): the PIDF body goes to the affiliation
 * function as is; the answer carries an entity tag and the granted expiry.
 */
import { randomBytes } from 'node:crypto';
import { createResponse } from '../sip/message/accessors.ts';
import type { SipRequest, SipResponse } from '../sip/message/types.ts';
import type { EdgeAuth } from './edge-auth.ts';
import { type FunctionsClient, FunctionsError } from './functions-client.ts';

export interface PresenceDeps {
  domain: string;
  auth: EdgeAuth;
  functions: Pick<FunctionsClient, 'publishAffiliation'>;
}

const warning = (domain: string, text: string): [string, string] => [
  'Warning',
  `399 ${domain} "${text.replace(/["\\\r\n]/g, ' ').slice(0, 200)}"`,
];

export const handlePublish = async (req: SipRequest, deps: PresenceDeps): Promise<SipResponse> => {
  const event = (req.headers.get('Event') ?? '').split(';')[0]?.trim().toLowerCase();
  if (event !== 'presence') {
    return createResponse(req, 489, 'Bad Event', { headers: [['Allow-Events', 'presence']] });
  }
  const auth = await deps.auth.authenticate(req);
  if (!auth.ok) return auth.response;
  const expires = Math.min(Number(req.headers.get('Expires') ?? 3600) || 3600, 86_400);
  const etag = randomBytes(8).toString('hex');
  if (req.body.length === 0) {
    // RFC 3903 §4.1 / §6 step 4: a refresh names an entity-tag; we keep none (the affiliation function
    // holds the state), so 412 asks the client to publish its full PIDF again.
    if (!req.headers.get('SIP-If-Match')) return createResponse(req, 400, 'Body Required');
    return createResponse(req, 412, 'Conditional Request Failed');
  }
  const type = (req.headers.get('Content-Type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/pidf+xml') {
    return createResponse(req, 415, 'Unsupported Media Type', {
      headers: [['Accept', 'application/pidf+xml']],
    });
  }
  try {
    await deps.functions.publishAffiliation(auth.mcpttId, req.body.toString('utf8'));
  } catch (e) {
    if (e instanceof FunctionsError && (e.status === 400 || e.status === 403)) {
      return createResponse(req, e.status, undefined, { headers: [warning(deps.domain, e.message)] });
    }
    throw e;
  }
  return createResponse(req, 200, 'OK', {
    headers: [
      ['SIP-ETag', etag],
      ['Expires', String(expires)],
    ],
  });
};
