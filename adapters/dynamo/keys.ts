/** Key builders for the single-table design (see table-design.ts). */
export const keys = {
  user: (mcpttId: string) => ({ pk: `USER#${mcpttId}`, sk: 'PROFILE' }),
  /** All registration bindings of one user, in one item (decision 0014). */
  registrations: (mcpttId: string) => ({ pk: `USER#${mcpttId}`, sk: 'REGS' }),
  group: (groupId: string) => ({ pk: `GROUP#${groupId}`, sk: 'META' }),
  member: (groupId: string, mcpttId: string) => ({ pk: `GROUP#${groupId}`, sk: `MEMBER#${mcpttId}` }),
  affiliation: (groupId: string, mcpttId: string, clientId: string) => ({
    pk: `GROUP#${groupId}`,
    sk: `AFFIL#${mcpttId}#${clientId}`,
  }),
  marker: (groupId: string) => ({ pk: `GROUP#${groupId}`, sk: 'REGROUP' }),
  temporaryGroup: (tgi: string) => ({ pk: `TGI#${tgi}`, sk: 'META' }),
  agreement: (partner: string) => ({ pk: `AGREEMENT#${partner}`, sk: 'META' }),
  nonce: (partner: string, nonce: string) => ({ pk: `NONCE#${partner}`, sk: nonce }),
  /** The nonces of the partner legs of one call (a string set): one item, one write per batch of legs. */
  callNonces: (partner: string, callId: string) => ({ pk: `NONCES#${partner}#${callId}`, sk: 'NONCES' }),
  callPass: (tgi: string, callId: string) => ({ pk: `CALLPASS#${tgi}`, sk: callId }),
} as const;

export const typeIndexKey = (type: string, id: string) => ({ gsi2pk: `TYPE#${type}`, gsi2sk: id });

/** Epoch seconds for DynamoDB TTL, from epoch milliseconds. */
export const ttlOf = (expiresAtMs: number): number => Math.ceil(expiresAtMs / 1000);
