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
   * absent from the result. Keys DynamoDB leaves unprocessed are asked again, with back-off.
   */
  async getUsers(mcpttIds: readonly SipUri[]): Promise<Map<SipUri, StoredUser>> {
    const found = new Map<SipUri, StoredUser>();
    const ids = [...new Set(mcpttIds)];
    for (let i = 0; i < ids.length; i += 100) {
      let pending: Record<string, unknown>[] = ids.slice(i, i + 100).map((id) => keys.user(id));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt === 5) throw new Error(`getUsers: ${pending.length} keys left unprocessed`);
        if (attempt > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
        const out = await this.doc.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const { credentials, ...user } = strip<User & { credentials: UserCredentials }>(item as Item);
          found.set(user.mcpttId, { user, credentials });
        }
        pending = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
      }
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

  async putRegistration(r: Registration): Promise<void> {
    await this.put({
      ...keys.registration(r.mcpttId, r.contact),
      type: 'registration',
      ...r,
      ttl: ttlOf(r.expiresAt),
    });
  }

  async deleteRegistration(mcpttId: SipUri, contact: string): Promise<void> {
    await this.delete(keys.registration(mcpttId, contact));
  }

  async listRegistrations(mcpttId: SipUri, now: EpochMs): Promise<Registration[]> {
    const items = await this.queryPartition(`USER#${mcpttId}`, 'REG#');
    return items.filter((i) => notExpired(i, now)).map((i) => strip<Registration>(i));
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
