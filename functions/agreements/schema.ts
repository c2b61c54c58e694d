/** Input schema of a partner agreement (admin API and config file). */
import { z } from 'zod';
import { SHAREABLE_USER_FIELDS } from '#core/model.ts';

export const agreementFields = {
  apiUrl: z.url({ protocol: /^https?$/, error: 'apiUrl must be an http(s) URL' }),
  sipUri: z
    .string()
    .regex(/^sips?:/i, 'sipUri must be a sip: or sips: URI')
    .max(256),
  keyId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'keyId: 1-64 of A-Z a-z 0-9 . _ -'),
  key: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43,}$/, 'key must be base64url of at least 32 bytes (43+ characters)')
    .max(512),
  sharedUserFields: z.array(z.enum(SHAREABLE_USER_FIELDS)).max(SHAREABLE_USER_FIELDS.length).default([]),
  regroupableGroups: z.union([z.literal('*'), z.array(z.string().min(1).max(256)).max(1000)]).default([]),
};

export const AgreementInput = z.strictObject({ partner: z.string().min(1).max(253), ...agreementFields });
export const AgreementUpdate = z.strictObject(agreementFields);
