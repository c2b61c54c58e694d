/**
 * Single-table design of one MCPTT system's DynamoDB table. Plain data shared by the store
 * (adapters/dynamo/*), the local runtime (table creation on dynalite) and the CDK stack.
 *
 * | item                | pk                  | sk                   | gsi1pk / gsi1sk                 | gsi2pk / gsi2sk        |
 * |---------------------|---------------------|----------------------|---------------------------------|------------------------|
 * | user                | USER#<mcpttId>      | PROFILE              |                                 | TYPE#user / <mcpttId>  |
 * | registrations       | USER#<mcpttId>      | REGS                 |                                 |                        |
 * | group               | GROUP#<groupId>     | META                 |                                 | TYPE#group / <groupId> |
 * | membership          | GROUP#<groupId>     | MEMBER#<mcpttId>     | USER#<mcpttId> / MEMBER#<group> |                        |
 * | affiliation         | GROUP#<groupId>     | AFFIL#<mcpttId>#<client> | USER#<mcpttId> / AFFIL#<group>#<client> |          |
 * | regroup marker      | GROUP#<groupId>     | REGROUP              |                                 | TYPE#marker / <groupId>|
 * | temporary group     | TGI#<tgi>           | META                 |                                 | TYPE#tgi / <tgi>       |
 * | partner agreement   | AGREEMENT#<partner> | META                 |                                 | TYPE#agreement / <p>   |
 * | partner nonce       | NONCE#<partner>     | <nonce>              |                                 |                        |
 * | partner leg nonces  | NONCES#<partner>#<callId> | NONCES         |                                 |                        |
 * | call pass           | CALLPASS#<tgi>      | <callId>             |                                 |                        |
 * | group call          | CALL#<callId>       | META                 |                                 |                        |
 * | group call legs     | CALL#<callId>       | LEGS#<nnnn>          |                                 |                        |
 * | SIP Call-ID claim   | SIPCALL#<Call-ID>   | META                 |                                 |                        |
 *
 * Group calls (adapters/dynamo/call-store.ts, decision 0015): the call item holds the call, its legs'
 * required flags (`legs`) and each leg's first answer (`answers`); the legs' members are in sheets of
 * 100.
 *
 * Partner leg nonces: the nonces of the signed legs of one call that a partner invited to us
 * (`nonces`, a string set grown with `ADD`), so that a batch of legs costs one write; kept until
 * `expiresAt`, which is only ever raised (Store.recordCallNonces).
 *
 * The registrations item holds every binding of one user (`bindings`: contact → binding, each with
 * its own `expiresAt`), a `version` for optimistic locking, and `ttl` of its latest binding; it is
 * read whole, so a call fetches the registrations of 100 members with one BatchGetItem (decision 0014).
 *
 * Every write is a single-item (conditional) write; there are no transactions. Items that
 * expire carry `expiresAt` (epoch ms), enforced on every read, and `ttl` (epoch seconds) so that
 * DynamoDB's TTL deletes them eventually in AWS.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

export const INDEXES = {
  /** Facts about a user across groups: memberships and affiliations by user. */
  byUser: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  /** Listing items of one type (admin lists). */
  byType: { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
} as const;

/** Attribute DynamoDB TTL deletes by (epoch seconds). */
export const TTL_ATTRIBUTE = 'ttl';
