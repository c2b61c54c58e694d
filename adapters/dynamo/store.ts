/**
 * The system's store on DynamoDB: every read and write of domain facts goes through here.
 * Single-item (conditional) writes only; expiry (`expiresAt`) is enforced on every read.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mapLimit } from '#core/map-limit.ts';
import type {
  Affiliation,
  EpochMs,
  Group,
  GroupMember,
  PartnerAgreement,
  Registration,
  RegroupMarker,
  SipUri,
  TemporaryGroup,
  User,
  UserCredentials,
} from '#core/model.ts';
import { keys, ttlOf, typeIndexKey } from './keys.ts';
import { INDEXES } from './table-design.ts';

type Item = Record<string, unknown>;
interface Condition {
  expression: string;
  values?: Item;
  names?: Record<string, string>;
}

const conditionParams = (c: Condition | undefined) =>
  c
    ? {
        ConditionExpression: c.expression,
        ...(c.values ? { ExpressionAttributeValues: c.values } : {}),
        ...(c.names ? { ExpressionAttributeNames: c.names } : {}),
      }
    : {};

const KEY_ATTRIBUTES = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'ttl', 'type'];

/** Strips the storage attributes from an item, leaving the domain fields. */
const strip = <T>(item: Item): T => {
  const out: Item = {};
  for (const [k, v] of Object.entries(item)) if (!KEY_ATTRIBUTES.includes(k)) out[k] = v;
  return out as T;
};

const isConditionFailure = (e: unknown): boolean =>
  e instanceof ConditionalCheckFailedException ||
  (e instanceof Error && e.name === 'ConditionalCheckFailedException');

const notExpired = (item: Item | undefined, now: EpochMs): boolean =>
  item !== undefined && (typeof item.expiresAt !== 'number' || now < item.expiresAt);

/** BatchGetItem takes at most 100 keys a request. */
const BATCH_GET_MAX_KEYS = 100;
/** BatchGetItem requests of one call in flight at once. */
const BATCH_GET_CONCURRENCY = 4;
/** Requests per chunk, the first included, before keys left unprocessed fail the read. */
const BATCH_GET_ATTEMPTS = 5;
/** Read-modify-write attempts of a registrations item before a contended write fails. */
const REGISTRATION_WRITE_ATTEMPTS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One binding as the registrations item holds it (its key is the user's). */
type StoredBinding = Omit<Registration, 'mcpttId'>;

/** The unexpired bindings of a registrations item, by contact. */
const registrationsIn = (item: Item | undefined, mcpttId: SipUri, now: EpochMs): Registration[] =>
  Object.values((item?.bindings ?? {}) as Record<string, StoredBinding>)
    .filter((b) => now < b.expiresAt)
    .sort((a, b) => (a.contact < b.contact ? -1 : a.contact > b.contact ? 1 : 0))
    .map((b) => ({ mcpttId, ...b }));

export interface StoredUser {
  user: User;
  credentials: UserCredentials;
}

/** The partner side's record of one interrogation: who may be invited to the call, and where. */
export interface CallPass {
  tgi: SipUri;
  callId: string;
  /** Member → registered contacts, latest registration first (empty: not registered). */
  members: Record<SipUri, string[]>;
  expiresAt: EpochMs;
}

export class Store {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  // ---- generic helpers -------------------------------------------------------------------

  private async get(key: { pk: string; sk: string }): Promise<Item | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return out.Item;
  }

  /** Puts an item; with `condition`, returns false instead of throwing when it does not hold. */
  private async put(item: Item, condition?: Condition): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({ TableName: this.tableName, Item: item, ...conditionParams(condition) }),
      );
      return true;
    } catch (e) {
      if (condition && isConditionFailure(e)) return false;
      throw e;
    }
  }

  private async delete(key: { pk: string; sk: string }, condition?: Condition): Promise<boolean> {
    try {
      await this.doc.send(
        new DeleteCommand({ TableName: this.tableName, Key: key, ...conditionParams(condition) }),
      );
      return true;
    } catch (e) {
      if (condition && isConditionFailure(e)) return false;
      throw e;
    }
  }

  private async queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({ TableName: this.tableName, ...input, ExclusiveStartKey: start }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /**
   * The items of `itemKeys` that exist, by BatchGetItem (strongly consistent): 100 keys a request,
   * a few requests in flight; keys DynamoDB leaves unprocessed are asked again, with back-off. The keys
   * must be distinct. Items come in no particular order.
   */
  private async batchGet(itemKeys: readonly { pk: string; sk: string }[], what: string): Promise<Item[]> {
    const chunks: { pk: string; sk: string }[][] = [];
    for (let i = 0; i < itemKeys.length; i += BATCH_GET_MAX_KEYS) {
      chunks.push(itemKeys.slice(i, i + BATCH_GET_MAX_KEYS));
    }
    const found = await mapLimit(chunks, BATCH_GET_CONCURRENCY, async (chunk) => {
      const items: Item[] = [];
      let pending: Record<string, unknown>[] = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt === BATCH_GET_ATTEMPTS)
          throw new Error(`${what}: ${pending.length} keys left unprocessed`);
        if (attempt > 0) await sleep(20 * 2 ** attempt);
        const out = await this.doc.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        items.push(...((out.Responses?.[this.tableName] ?? []) as Item[]));
        pending = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
      }
      return items;
    });
    return found.flat();
  }

  private queryPartition(pk: string, skPrefix: string): Promise<Item[]> {
    return this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': pk, ':p': skPrefix },
      ConsistentRead: true,
    });
  }

  private queryByUser(mcpttId: string, skPrefix: string): Promise<Item[]> {
    const i = INDEXES.byUser;
    return this.queryAll({
      IndexName: i.name,
      KeyConditionExpression: `${i.partitionKey} = :pk AND begins_with(${i.sortKey}, :p)`,
      ExpressionAttributeValues: { ':pk': `USER#${mcpttId}`, ':p': skPrefix },
    });
  }

  private queryByType(type: string): Promise<Item[]> {
    const i = INDEXES.byType;
    return this.queryAll({
      IndexName: i.name,
      KeyConditionExpression: `${i.partitionKey} = :pk`,
      ExpressionAttributeValues: { ':pk': `TYPE#${type}` },
    });
  }

  /** A cheap read proving the table answers (health). */
  async ping(): Promise<void> {
    await this.get(keys.agreement('__health__'));
  }

  // ---- users -------------------------------------------------------------------------------

  private userItem(user: User, credentials: UserCredentials): Item {
    return {
      ...keys.user(user.mcpttId),
      ...typeIndexKey('user', user.mcpttId),
      type: 'user',
      ...user,
      credentials,
    };
  }

  /** Creates a user; false when the MCPTT ID is taken. */
  createUser(user: User, credentials: UserCredentials): Promise<boolean> {
    return this.put(this.userItem(user, credentials), { expression: 'attribute_not_exists(pk)' });
  }

  /** Creates or replaces a user. */
  async putUser(user: User, credentials: UserCredentials): Promise<void> {
    await this.put(this.userItem(user, credentials));
  }

  /** Replaces an existing user; false when it does not exist. */
  replaceUser(user: User, credentials: UserCredentials): Promise<boolean> {
    return this.put(this.userItem(user, credentials), { expression: 'attribute_exists(pk)' });
  }

  async getUser(mcpttId: SipUri): Promise<StoredUser | undefined> {
    const item = await this.get(keys.user(mcpttId));
    if (!item) return undefined;
    const { credentials, ...user } = strip<User & { credentials: UserCredentials }>(item);
    return { user, credentials };
  }

  /**
   * Several users in one round trip per 100 (BatchGetItem, strongly consistent); unknown ids are
   * absent from the result.
   */
  async getUsers(mcpttIds: readonly SipUri[]): Promise<Map<SipUri, StoredUser>> {
    const found = new Map<SipUri, StoredUser>();
    const items = await this.batchGet(
      [...new Set(mcpttIds)].map((id) => keys.user(id)),
      'getUsers',
    );
    for (const item of items) {
      const { credentials, ...user } = strip<User & { credentials: UserCredentials }>(item);
      found.set(user.mcpttId, { user, credentials });
    }
    return found;
  }

  async listUsers(): Promise<User[]> {
    const items = await this.queryByType('user');
    return items.map((i) => {
      const { credentials: _c, ...user } = strip<User & { credentials: UserCredentials }>(i);
      return user;
    });
  }

  deleteUser(mcpttId: SipUri): Promise<boolean> {
    return this.delete(keys.user(mcpttId), { expression: 'attribute_exists(pk)' });
  }

  // ---- groups and members ----------------------------------------------------------------

  private groupItem(group: Group): Item {
    return { ...keys.group(group.groupId), ...typeIndexKey('group', group.groupId), type: 'group', ...group };
  }

  createGroup(group: Group): Promise<boolean> {
    return this.put(this.groupItem(group), { expression: 'attribute_not_exists(pk)' });
  }

  async putGroup(group: Group): Promise<void> {
    await this.put(this.groupItem(group));
  }

  replaceGroup(group: Group): Promise<boolean> {
    return this.put(this.groupItem(group), { expression: 'attribute_exists(pk)' });
  }

  async getGroup(groupId: SipUri): Promise<Group | undefined> {
    const item = await this.get(keys.group(groupId));
    return item ? strip<Group>(item) : undefined;
  }

  async listGroups(): Promise<Group[]> {
    return (await this.queryByType('group')).map((i) => strip<Group>(i));
  }

  deleteGroup(groupId: SipUri): Promise<boolean> {
    return this.delete(keys.group(groupId), { expression: 'attribute_exists(pk)' });
  }

  async putMember(groupId: SipUri, member: GroupMember): Promise<void> {
    await this.put({
      ...keys.member(groupId, member.mcpttId),
      gsi1pk: `USER#${member.mcpttId}`,
      gsi1sk: `MEMBER#${groupId}`,
      type: 'member',
      groupId,
      ...member,
    });
  }

  deleteMember(groupId: SipUri, mcpttId: SipUri): Promise<boolean> {
    return this.delete(keys.member(groupId, mcpttId), { expression: 'attribute_exists(pk)' });
  }

  async listMembers(groupId: SipUri): Promise<GroupMember[]> {
    const items = await this.queryPartition(`GROUP#${groupId}`, 'MEMBER#');
    return items.map((i) => ({ mcpttId: i.mcpttId as SipUri, required: i.required === true }));
  }

  /** Groups the user is a member of (by-user index). */
  async groupsOfUser(mcpttId: SipUri): Promise<SipUri[]> {
    const items = await this.queryByUser(mcpttId, 'MEMBER#');
    return items.map((i) => i.groupId as SipUri);
  }

  // ---- regroup markers ---------------------------------------------------------------------

  private markerItem(m: RegroupMarker): Item {
    return {
      ...keys.marker(m.groupId),
      gsi1pk: `TGI#${m.tgi}`,
      gsi1sk: `GROUP#${m.groupId}`,
      ...typeIndexKey('marker', m.groupId),
      type: 'marker',
      ...m,
      ...(m.expiresAt !== undefined ? { ttl: ttlOf(m.expiresAt) } : {}),
    };
  }

  async getMarker(groupId: SipUri, now: EpochMs): Promise<RegroupMarker | undefined> {
    const item = await this.get(keys.marker(groupId));
    return notExpired(item, now) && item ? strip<RegroupMarker>(item) : undefined;
  }

  /**
   * Claims a group for a temporary group: succeeds when the group carries no marker, an expired
   * one, or already one for the same TGI (idempotent retry). False when regrouped elsewhere.
   */
  claimMarker(m: RegroupMarker, now: EpochMs): Promise<boolean> {
    return this.put(this.markerItem(m), {
      expression: 'attribute_not_exists(pk) OR expiresAt < :now OR tgi = :tgi',
      values: { ':now': now, ':tgi': m.tgi },
    });
  }

  /** Makes a pending marker of this TGI permanent; false when the group is not claimed by it. */
  async activateMarker(groupId: SipUri, tgi: SipUri, now: EpochMs): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.marker(groupId),
          UpdateExpression: 'SET #s = :active REMOVE expiresAt, #ttl',
          ConditionExpression: 'tgi = :tgi AND (attribute_not_exists(expiresAt) OR expiresAt > :now)',
          ExpressionAttributeNames: { '#s': 'status', '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':active': 'active', ':tgi': tgi, ':now': now },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Removes the marker only if it belongs to this TGI. */
  releaseMarker(groupId: SipUri, tgi: SipUri): Promise<boolean> {
    return this.delete(keys.marker(groupId), { expression: 'tgi = :tgi', values: { ':tgi': tgi } });
  }

  /** Markers (pending or active, unexpired) that point at a TGI. */
  async markersOf(tgi: SipUri, now: EpochMs): Promise<RegroupMarker[]> {
    const items = await this.queryAll({
      IndexName: INDEXES.byUser.name,
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': `TGI#${tgi}` },
    });
    return items.filter((i) => notExpired(i, now)).map((i) => strip<RegroupMarker>(i));
  }

  async listMarkers(now: EpochMs): Promise<RegroupMarker[]> {
    return (await this.queryByType('marker')).filter((i) => notExpired(i, now)).map((i) => strip(i));
  }

  // ---- temporary groups -------------------------------------------------------------------

  private temporaryGroupItem(tg: TemporaryGroup): Item {
    return {
      ...keys.temporaryGroup(tg.tgi),
      ...typeIndexKey('tgi', tg.tgi),
      type: 'tgi',
      ...tg,
      ...(tg.expiresAt !== undefined ? { ttl: ttlOf(tg.expiresAt) } : {}),
    };
  }

  /** Reserves a TGI with a pending record; false when the TGI is in use (and not an expired pending one). */
  reserveTemporaryGroup(tg: TemporaryGroup, now: EpochMs): Promise<boolean> {
    return this.put(this.temporaryGroupItem(tg), {
      expression: 'attribute_not_exists(pk) OR expiresAt < :now',
      values: { ':now': now },
    });
  }

  /**
   * Replaces the record of a TGI, only if its status is still `expectedStatus`
   * (and, for `pending`, not expired). False otherwise.
   */
  transitionTemporaryGroup(tg: TemporaryGroup, expectedStatus: TemporaryGroup['status'], now: EpochMs) {
    return this.put(this.temporaryGroupItem(tg), {
      expression: '#s = :expected AND (attribute_not_exists(expiresAt) OR expiresAt > :now)',
      values: { ':expected': expectedStatus, ':now': now },
      names: { '#s': 'status' },
    });
  }

  async getTemporaryGroup(tgi: SipUri, now: EpochMs): Promise<TemporaryGroup | undefined> {
    const item = await this.get(keys.temporaryGroup(tgi));
    return notExpired(item, now) && item ? strip<TemporaryGroup>(item) : undefined;
  }

  async listTemporaryGroups(now: EpochMs): Promise<TemporaryGroup[]> {
    return (await this.queryByType('tgi')).filter((i) => notExpired(i, now)).map((i) => strip(i));
  }

  /** Deletes the record of a TGI if it has the expected status. */
  deleteTemporaryGroup(tgi: SipUri, expectedStatus: TemporaryGroup['status']): Promise<boolean> {
    return this.delete(keys.temporaryGroup(tgi), {
      expression: '#s = :expected',
      values: { ':expected': expectedStatus },
      names: { '#s': 'status' },
    });
  }

  // ---- partner agreements and nonces -------------------------------------------------------

  private agreementItem(a: PartnerAgreement): Item {
    return { ...keys.agreement(a.partner), ...typeIndexKey('agreement', a.partner), type: 'agreement', ...a };
  }

  createAgreement(a: PartnerAgreement): Promise<boolean> {
    return this.put(this.agreementItem(a), { expression: 'attribute_not_exists(pk)' });
  }

  async putAgreement(a: PartnerAgreement): Promise<void> {
    await this.put(this.agreementItem(a));
  }

  replaceAgreement(a: PartnerAgreement): Promise<boolean> {
    return this.put(this.agreementItem(a), { expression: 'attribute_exists(pk)' });
  }

  async getAgreement(partner: string): Promise<PartnerAgreement | undefined> {
    const item = await this.get(keys.agreement(partner));
    return item ? strip<PartnerAgreement>(item) : undefined;
  }

  async listAgreements(): Promise<PartnerAgreement[]> {
    return (await this.queryByType('agreement')).map((i) => strip<PartnerAgreement>(i));
  }

  deleteAgreement(partner: string): Promise<boolean> {
    return this.delete(keys.agreement(partner), { expression: 'attribute_exists(pk)' });
  }

  /**
   * Records a partner request nonce until `expiresAt`; false when it was seen before (a replay).
   */
  recordNonce(partner: string, nonce: string, expiresAt: EpochMs, now: EpochMs): Promise<boolean> {
    return this.put(
      { ...keys.nonce(partner, nonce), type: 'nonce', expiresAt, ttl: ttlOf(expiresAt) },
      { expression: 'attribute_not_exists(pk) OR expiresAt < :now', values: { ':now': now } },
    );
  }

  // ---- call passes (partner side of a group call) -----------------------------------------

  /**
   * Stores what the interrogation of call `callId` found: the members of our groups regrouped into
   * `tgi` that the primary may invite, with their registered contacts (latest first), until
   * `expiresAt`. Written once per interrogation (a repeated interrogation writes the same pass).
   */
  async putCallPass(pass: CallPass): Promise<void> {
    await this.put({
      ...keys.callPass(pass.tgi, pass.callId),
      type: 'call-pass',
      ...pass,
      ttl: ttlOf(pass.expiresAt),
    });
  }

  async getCallPass(tgi: SipUri, callId: string, now: EpochMs): Promise<CallPass | undefined> {
    const item = await this.get(keys.callPass(tgi, callId));
    return item && notExpired(item, now) ? strip<CallPass>(item) : undefined;
  }

  /**
   * Records the nonces of partner legs that name call `callId` in the call's nonce item
   * (`NONCES#<partner>#<callId>`, a string set) with ONE UpdateItem (`ADD`, returning the set as it
   * was), and keeps the item at least until `expiresAt`. Returns those of `nonces` recorded before:
   * replays. (Duplicates within `nonces` are the caller's to refuse: they are recorded once.)
   *
   * The item's `expiresAt` (and `ttl`) is only ever raised, never shortened, so every nonce stays as
   * long as its own write asked. Update expressions have no max(), so the write is conditional:
   *  1. `ADD` the nonces and `SET expiresAt` to ours if the item has none or an earlier (or equal) one;
   *  2. else (a write asked for later) `ADD` the nonces only, if its `expiresAt` is still later than
   *     ours. `expiresAt` only grows, so this fails only when TTL deleted the item in between: then 1
   *     again, which creates it.
   * A failed condition writes nothing, so no nonce is recorded twice. An expired item that TTL has not
   * deleted yet is raised and reused: the nonces it still holds belong to signatures too old to pass.
   */
  async recordCallNonces(
    partner: string,
    callId: string,
    nonces: readonly string[],
    expiresAt: EpochMs,
  ): Promise<Set<string>> {
    const added = new Set(nonces);
    if (added.size === 0) return new Set(); // DynamoDB has no empty sets
    for (let attempt = 0; attempt < 4; attempt++) {
      const raise = attempt % 2 === 0;
      try {
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.callNonces(partner, callId),
            ...(raise
              ? {
                  UpdateExpression: 'ADD #nonces :nonces SET #e = :e, #ttl = :ttl, #type = :type',
                  ConditionExpression: 'attribute_not_exists(#e) OR #e <= :e',
                  ExpressionAttributeNames: {
                    '#nonces': 'nonces',
                    '#e': 'expiresAt',
                    '#ttl': 'ttl',
                    '#type': 'type',
                  },
                  ExpressionAttributeValues: {
                    ':nonces': added,
                    ':e': expiresAt,
                    ':ttl': ttlOf(expiresAt),
                    ':type': 'call-nonces',
                  },
                }
              : {
                  UpdateExpression: 'ADD #nonces :nonces',
                  ConditionExpression: '#e > :e',
                  ExpressionAttributeNames: { '#nonces': 'nonces', '#e': 'expiresAt' },
                  ExpressionAttributeValues: { ':nonces': added, ':e': expiresAt },
                }),
            ReturnValues: 'UPDATED_OLD',
          }),
        );
        const before: unknown = out.Attributes?.nonces;
        return new Set(before instanceof Set ? [...added].filter((n) => before.has(n)) : []);
      } catch (e) {
        if (!isConditionFailure(e)) throw e;
      }
    }
    throw new Error(`recordCallNonces: the nonce item of ${partner} ${callId} kept changing`);
  }

  // ---- registrations ----------------------------------------------------------------------

  /**
   * Binds `r.contact` to `r.mcpttId` until `r.expiresAt`, adding or refreshing that binding and
   * keeping the user's others (decision 0014). Bindings expired at `now` are dropped on the way.
   */
  async putRegistration(r: Registration, now: EpochMs): Promise<void> {
    const { mcpttId: _m, ...binding } = r;
    await this.changeBindings(r.mcpttId, now, (bindings) => {
      bindings.set(r.contact, binding);
      return true;
    });
  }

  /** Removes one binding of a user, keeping the others; nothing when it is not there. */
  async deleteRegistration(mcpttId: SipUri, contact: string, now: EpochMs): Promise<void> {
    await this.changeBindings(mcpttId, now, (bindings) => bindings.delete(contact));
  }

  /** The user's unexpired bindings, by contact (one GetItem). */
  async listRegistrations(mcpttId: SipUri, now: EpochMs): Promise<Registration[]> {
    return registrationsIn(await this.get(keys.registrations(mcpttId)), mcpttId, now);
  }

  /**
   * The unexpired bindings of several users, by contact, with one BatchGetItem per 100 users. Every
   * id asked for is a key of the result: `[]` for a user with no binding.
   */
  async registrationsOf(mcpttIds: readonly SipUri[], now: EpochMs): Promise<Map<SipUri, Registration[]>> {
    const ids = [...new Set(mcpttIds)];
    const items = await this.batchGet(
      ids.map((id) => keys.registrations(id)),
      'registrationsOf',
    );
    const byPk = new Map(items.map((i) => [i.pk as string, i]));
    return new Map(
      ids.map((id) => [id, registrationsIn(byPk.get(keys.registrations(id).pk), id, now)] as const),
    );
  }

  /**
   * Read-modify-write of a user's registrations item under optimistic locking: read it (strongly
   * consistent), drop the expired bindings, apply `change` (true when it changed something), then
   * write it back only if nobody wrote it meanwhile (`version`), or delete it when no binding is
   * left. Reads again and retries when another write came first; throws after a few attempts.
   */
  private async changeBindings(
    mcpttId: SipUri,
    now: EpochMs,
    change: (bindings: Map<string, StoredBinding>) => boolean,
  ): Promise<void> {
    const key = keys.registrations(mcpttId);
    for (let attempt = 0; attempt < REGISTRATION_WRITE_ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(10 * 2 ** attempt * (0.5 + Math.random()));
      const item = await this.get(key);
      const stored = Object.values((item?.bindings ?? {}) as Record<string, StoredBinding>);
      const bindings = new Map(stored.filter((b) => now < b.expiresAt).map((b) => [b.contact, b]));
      const changed = change(bindings);
      if (!item && bindings.size === 0) return;
      if (item && !changed && bindings.size === stored.length) return;
      const version = typeof item?.version === 'number' ? item.version : 0;
      const condition: Condition = item
        ? { expression: '#v = :v', values: { ':v': version }, names: { '#v': 'version' } }
        : { expression: 'attribute_not_exists(pk)' };
      const written =
        bindings.size === 0
          ? await this.delete(key, condition)
          : await this.put(
              {
                ...key,
                type: 'registrations',
                bindings: Object.fromEntries(bindings),
                version: version + 1,
                ttl: ttlOf(Math.max(...[...bindings.values()].map((b) => b.expiresAt))),
              },
              condition,
            );
      if (written) return;
    }
    throw new Error(
      `registrations of ${mcpttId}: still contended after ${REGISTRATION_WRITE_ATTEMPTS} attempts`,
    );
  }

  // ---- affiliations -----------------------------------------------------------------------

  async putAffiliation(a: Affiliation): Promise<void> {
    await this.put({
      ...keys.affiliation(a.groupId, a.mcpttId, a.clientId),
      gsi1pk: `USER#${a.mcpttId}`,
      gsi1sk: `AFFIL#${a.groupId}#${a.clientId}`,
      type: 'affiliation',
      ...a,
      ttl: ttlOf(a.expiresAt),
    });
  }

  async deleteAffiliation(a: Pick<Affiliation, 'groupId' | 'mcpttId' | 'clientId'>): Promise<void> {
    await this.delete(keys.affiliation(a.groupId, a.mcpttId, a.clientId));
  }

  /** All affiliation items of a user, expired ones included (the caller plans the update). */
  async affiliationsOfUser(mcpttId: SipUri): Promise<Affiliation[]> {
    return (await this.queryByUser(mcpttId, 'AFFIL#')).map((i) => strip<Affiliation>(i));
  }

  /** Unexpired affiliations to a group (one per member client). */
  async affiliationsToGroup(groupId: SipUri, now: EpochMs): Promise<Affiliation[]> {
    const items = await this.queryPartition(`GROUP#${groupId}`, 'AFFIL#');
    return items.filter((i) => notExpired(i, now)).map((i) => strip<Affiliation>(i));
  }
}
