/**
 * MCPTT warning texts of TS 24.379 §4.4.2, sent as `Warning: 399 <host> "<code> <text>"`.
 */
export const WARNING_TEXT = {
  103: 'maximum simultaneous MCPTT group calls reached',
  109: 'user not authorised to make prearranged group calls',
  110: 'user declined the call invitation',
  111: 'group call proceeded without all required group members',
  112: 'group call abandoned due to required group members not part of the group session',
  116: 'user is not part of the MCPTT group',
  119: 'user is not authorised to initiate the group call',
  120: 'user is not affiliated to this group',
  122: 'too many participants',
  123: 'MCPTT session already exists',
  147: 'user is authorized to initiate a temporary group call',
  148: 'MCPTT group is regrouped',
} as const;

export type WarningCode = keyof typeof WARNING_TEXT;

/** The Warning header value of TS 24.379 §4.4.2 (warn-code 399, RFC 3261 §20.43). */
export const mcpttWarning = (host: string, code: WarningCode): string =>
  `399 ${host} "${code} ${WARNING_TEXT[code]}"`;
