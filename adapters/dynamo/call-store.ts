/**
 * Calls and call legs of the group call workflow, on the system's table (single-item writes only):
 *
 * | item | pk | sk |
 * |---|---|---|
 * | call | CALL#<callId> | META: the call; `legs` (legId → 1 required / 0 not), `answers` (legId → first answer) |
 * | leg sheet | CALL#<callId> | LEGS#<nnnn>: up to {@link LEGS_PER_SHEET} legs' member and system |
 * | SIP Call-ID claim | SIPCALL#<sip Call-ID> | META (→ callId; a retransmitted INVITE finds it) |
 *
 * Why this shape (decision 0015): a call's writes do not grow with its members one request each.
 * Its legs are stored in sheets of {@link LEGS_PER_SHEET} (one conditional put each), and a batch of
 * answers is ONE update of the call item: each answer is set with `if_not_exists`, so the first answer
 * of a leg is the one kept and a duplicated or retransmitted answer changes nothing, and the condition
 * `attribute_exists(legs.<leg>)` refuses answers for legs the call does not have. The counters are not
 * stored: they are counted from `legs` and `answers`, which the same update returns (ALL_NEW), so they
 * can never disagree with the answers. Each write tags its answers with a token of its own, so it knows
 * which answers it added (`counted`) and a duplicate counts once.
 * The call's `decided` flag is set by one conditional write: exactly one caller wins it.
 */
import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { LegCounts, LegState } from '#core/commencement-policy.ts';
import { mapLimit } from '#core/map-limit.ts';
import type { CallPolicy, EpochMs, SipUri, SystemDomain } from '#core/model.ts';
import { ttlOf } from './keys.ts';

const isConditionFailure = (e: unknown): boolean =>
  e instanceof ConditionalCheckFailedException ||
  (e instanceof Error && e.name === 'ConditionalCheckFailedException');

export interface CallRecord {
  callId: string;
  sipCallId: string;
  tgi: SipUri;
  caller: SipUri;
  createdAt: EpochMs;
  status: 'setting-up' | 'established' | 'failed' | 'cancelled' | 'released';
  /** Set once, by the write that first made the commencement decision. */
  decided?: boolean;
  taskToken?: string;
  /** The temporary group's call policy, which the member-response function decides on. */
  policy?: CallPolicy;
  /**
   * The control API of the edge task that holds the call's INVITE and its member legs (the task named
   * itself when it asked where the INVITE goes); absent: the system's default edge (EDGE_CONTROL_URL).
   */
  edgeUrl?: string;
  /** Counted from the call's legs and answers when read (never stored). */
  counters: Omit<LegCounts, 'pending' | 'requiredPending'>;
}

export interface LegRecord {
  callId: string;
  legId: string;
  member: SipUri;
  system: SystemDomain;
  required: boolean;
  state: LegState;
  status?: number;
  reason?: string;
}

/** Legs per sheet item (about 100 bytes a leg: a sheet stays near 10 KB, far below 400 KB). */
export const LEGS_PER_SHEET = 100;
/**
 * Answers per update of the call item: each costs at most 49 characters of update expression and 32 of
 * condition (`#l79`, `:a79`), and DynamoDB allows 4 KB per expression.
 */
export const ANSWERS_PER_UPDATE = 80;
/** Sheet writes in flight at once. */
const SHEET_WRITE_CONCURRENCY = 10;

/** One leg's final answer. */
export interface LegAnswer {
  legId: string;
  state: Exclude<LegState, 'pending'>;
  status?: number;
  reason?: string;
}

/** A counted response: the call's counters after it, and what the commencement decision needs. */
export interface RecordedResponse {
  counters: CallRecord['counters'];
  /** The call as that same write left it (one atomic read with the counters). */
  call: Pick<CallRecord, 'policy' | 'taskToken' | 'decided'>;
}

/**
 * An answer as stored in the call item's `answers` map, one short string (a 1,000-member call item is
 * read back with every batch of answers): `<a|d|f><status> <token>[ <reason>]`, the token being that of
 * the write that set it, e.g. `a200 Xk3_9aQ1`, `d486 Xk3_9aQ1 Busy Here`.
 */
type StoredAnswer = string;
const STATE_CODES = { accepted: 'a', declined: 'd', failed: 'f' } as const;
const STATES_BY_CODE: Readonly<Record<string, Exclude<LegState, 'pending'>>> = {
  a: 'accepted',
  d: 'declined',
  f: 'failed',
};

const encodeAnswer = (a: LegAnswer, token: string): StoredAnswer =>
  `${STATE_CODES[a.state]}${a.status ?? 0} ${token}${a.reason ? ` ${a.reason}` : ''}`;

const decodeAnswer = (
  stored: StoredAnswer,
): { state: Exclude<LegState, 'pending'>; status: number; token: string; reason: string } => {
  const space = stored.indexOf(' ');
  const next = stored.indexOf(' ', space + 1);
  return {
    state: STATES_BY_CODE[stored[0] ?? ''] ?? 'failed',
    status: Number(stored.slice(1, space)),
    token: next < 0 ? stored.slice(space + 1) : stored.slice(space + 1, next),
    reason: next < 0 ? '' : stored.slice(next + 1),
  };
};

interface CallItem {
  legs?: Record<string, number>;
  answers?: Record<string, StoredAnswer>;
  [k: string]: unknown;
}

const ZERO = { total: 0, required: 0, accepted: 0, requiredAccepted: 0, lost: 0, requiredLost: 0 };
const RETENTION_MS = 7 * 24 * 3600_000;
const sheetKey = (n: number) => `LEGS#${String(n).padStart(4, '0')}`;

/** The counters of a call item: its legs, and the first answer of each. */
const countersOf = (item: CallItem): CallRecord['counters'] => {
  const c = { ...ZERO };
  const legs = item.legs ?? {};
  for (const flag of Object.values(legs)) {
    c.total++;
    if (flag === 1) c.required++;
  }
  for (const [legId, a] of Object.entries(item.answers ?? {})) {
    const flag = legs[legId];
    if (flag === undefined) continue;
    const accepted = a[0] === STATE_CODES.accepted;
    if (accepted) c.accepted++;
    else c.lost++;
    if (flag === 1) {
      if (accepted) c.requiredAccepted++;
      else c.requiredLost++;
    }
  }
  return c;
};

const callOf = (item: CallItem): CallRecord => {
  const { pk: _pk, sk: _sk, type: _t, ttl: _ttl, legs: _l, answers: _a, ...call } = item;
  return { ...(call as Omit<CallRecord, 'counters'>), counters: countersOf(item) };
};

export class CallStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Creates the call unless the SIP Call-ID already started one (a retransmitted INVITE, TS 24.379
   * idempotency); returns the call id that owns the SIP Call-ID and whether it is new.
   */
  async claimSipCallId(
    sipCallId: string,
    callId: string,
    now: EpochMs,
  ): Promise<{ callId: string; created: boolean }> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: `SIPCALL#${sipCallId}`,
            sk: 'META',
            callId,
            createdAt: now,
            ttl: ttlOf(now + RETENTION_MS),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { callId, created: true };
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      const out = await this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: `SIPCALL#${sipCallId}`, sk: 'META' },
          ConsistentRead: true,
        }),
      );
      return { callId: String(out.Item?.callId), created: false };
    }
  }

  async createCall(call: Omit<CallRecord, 'counters'>): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `CALL#${call.callId}`,
          sk: 'META',
          type: 'call',
          ...call,
          answers: {},
          ttl: ttlOf(call.createdAt + RETENTION_MS),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** The call, with its counters (one read of the call item). */
  async getCall(callId: string): Promise<CallRecord | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: `CALL#${callId}`, sk: 'META' },
        ConsistentRead: true,
      }),
    );
    return out.Item ? callOf(out.Item as CallItem) : undefined;
  }

  /** The call and its legs, each in the state of its first answer (one query of the call's items). */
  async readCall(callId: string): Promise<{ call: CallRecord | undefined; legs: LegRecord[] }> {
    const items: Record<string, unknown>[] = [];
    let start: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const out: QueryCommandOutput = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `CALL#${callId}` },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    const meta = items.find((i) => i.sk === 'META') as CallItem | undefined;
    if (!meta) return { call: undefined, legs: [] };
    const flags = meta.legs ?? {};
    const answers = meta.answers ?? {};
    const legs: LegRecord[] = [];
    for (const sheet of items) {
      if (typeof sheet.sk !== 'string' || !sheet.sk.startsWith('LEGS#')) continue;
      const entries = (sheet.legs ?? {}) as Record<string, { member: SipUri; system: SystemDomain }>;
      for (const [legId, leg] of Object.entries(entries)) {
        // A sheet whose call item never listed its legs (a retried InviteMembers finishes that).
        if (flags[legId] === undefined) continue;
        const stored = answers[legId];
        const a = stored === undefined ? undefined : decodeAnswer(stored);
        legs.push({
          callId,
          legId,
          member: leg.member,
          system: leg.system,
          required: flags[legId] === 1,
          state: a?.state ?? 'pending',
          ...(a ? { status: a.status, reason: a.reason } : {}),
        });
      }
    }
    return { call: callOf(meta), legs };
  }

  async listLegs(callId: string): Promise<LegRecord[]> {
    return (await this.readCall(callId)).legs;
  }

  /**
   * Stores the call's legs, all of them in one call of this method: the sheets first (each a
   * conditional put, so a retried InviteMembers rewrites nothing), then the call item's `legs` (set
   * once). Returns how many legs this call stored (0 when they were stored already).
   */
  async addLegs(callId: string, legs: Omit<LegRecord, 'callId' | 'state'>[]): Promise<number> {
    const sheets: Omit<LegRecord, 'callId' | 'state'>[][] = [];
    for (let i = 0; i < legs.length; i += LEGS_PER_SHEET) sheets.push(legs.slice(i, i + LEGS_PER_SHEET));
    let added = 0;
    await mapLimit(sheets, SHEET_WRITE_CONCURRENCY, async (sheet, n) => {
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              pk: `CALL#${callId}`,
              sk: sheetKey(n),
              type: 'leg-sheet',
              legs: Object.fromEntries(sheet.map((l) => [l.legId, { member: l.member, system: l.system }])),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        added += sheet.length;
      } catch (e) {
        if (!isConditionFailure(e)) throw e;
      }
    });
    if (legs.length === 0) return added;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `CALL#${callId}`, sk: 'META' },
          UpdateExpression: 'SET legs = :legs',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(legs)',
          ExpressionAttributeValues: {
            ':legs': Object.fromEntries(legs.map((l) => [l.legId, l.required ? 1 : 0])),
          },
        }),
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
    return added;
  }

  /**
   * Records a member's final answer. Only the first answer for a leg counts: it moves the leg out
   * of `pending` and adds to the counters; the counters after that addition are returned, with the
   * call's policy and task token read by the same write (no second read).
   * Undefined when the leg had answered already (a duplicate) or does not exist.
   */
  async recordResponse(
    callId: string,
    legId: string,
    answer: { state: Exclude<LegState, 'pending'>; status?: number; reason?: string },
  ): Promise<RecordedResponse | undefined> {
    const out = await this.recordResponses(callId, [{ legId, ...answer }]);
    return out.counted.length === 0 ? undefined : out;
  }

  /**
   * Records the final answers of several legs of one call in one update of the call item (or one per
   * {@link ANSWERS_PER_UPDATE}): a leg keeps its first answer (`if_not_exists`), an unknown leg is
   * refused by the condition and left out. The update returns the call item, from which the counters,
   * policy and task token are read; `counted` lists the legs whose answer this call set.
   */
  async recordResponses(
    callId: string,
    answers: readonly LegAnswer[],
  ): Promise<RecordedResponse & { counted: { legId: string; required: boolean }[] }> {
    const token = randomBytes(6).toString('base64url');
    const seen = new Set<string>();
    const firsts = answers.filter((a) => !seen.has(a.legId) && seen.add(a.legId));
    // Only the last update reads the call item back: it holds the answers of the earlier ones too.
    let item: CallItem | undefined;
    for (let i = 0; i < firsts.length; i += ANSWERS_PER_UPDATE) {
      const last = i + ANSWERS_PER_UPDATE >= firsts.length;
      const out = await this.setAnswers(callId, firsts.slice(i, i + ANSWERS_PER_UPDATE), token, last);
      if (last) item = out;
    }
    if (!item) return { counted: [], counters: { ...ZERO }, call: {} };
    const stored = item.answers ?? {};
    const flags = item.legs ?? {};
    const mine = (legId: string) => {
      const a = stored[legId];
      return a !== undefined && decodeAnswer(a).token === token;
    };
    const counted = firsts
      .filter((a) => mine(a.legId) && flags[a.legId] !== undefined)
      .map((a) => ({ legId: a.legId, required: flags[a.legId] === 1 }));
    const call = callOf(item);
    return {
      counted,
      counters: call.counters,
      call: {
        ...(call.policy !== undefined ? { policy: call.policy } : {}),
        ...(call.taskToken !== undefined ? { taskToken: call.taskToken } : {}),
        ...(call.decided !== undefined ? { decided: call.decided } : {}),
      },
    };
  }

  /**
   * One update of the call item setting the first answer of each leg of `chunk`; with `readBack`, the
   * item after it. When a leg is not the call's, the condition fails: the call's legs are read, the
   * unknown ones left out, and the update made once more. Undefined when the call is unknown (or
   * without `readBack`).
   */
  private async setAnswers(
    callId: string,
    chunk: readonly LegAnswer[],
    token: string,
    readBack: boolean,
    retried?: CallItem,
  ): Promise<CallItem | undefined> {
    if (chunk.length === 0) return readBack ? retried : undefined;
    const names: Record<string, string> = {};
    const values: Record<string, StoredAnswer> = {};
    const sets: string[] = [];
    const known: string[] = ['attribute_exists(pk)'];
    chunk.forEach((a, i) => {
      names[`#l${i}`] = a.legId;
      values[`:a${i}`] = encodeAnswer(a, token);
      sets.push(`answers.#l${i} = if_not_exists(answers.#l${i}, :a${i})`);
      known.push(`attribute_exists(legs.#l${i})`);
    });
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `CALL#${callId}`, sk: 'META' },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: known.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: readBack ? 'ALL_NEW' : 'NONE',
        }),
      );
      return out.Attributes as CallItem | undefined;
    } catch (e) {
      if (!isConditionFailure(e) || retried) {
        if (isConditionFailure(e)) return undefined;
        throw e;
      }
    }
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: `CALL#${callId}`, sk: 'META' },
        ConsistentRead: true,
      }),
    );
    const current = out.Item as CallItem | undefined;
    const flags = current?.legs;
    if (!current || !flags) return undefined;
    return this.setAnswers(
      callId,
      chunk.filter((a) => flags[a.legId] !== undefined),
      token,
      readBack,
      current,
    );
  }

  /** Marks the commencement decision as taken; true for exactly one caller. */
  async claimDecision(callId: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `CALL#${callId}`, sk: 'META' },
          UpdateExpression: 'SET decided = :t',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(decided)',
          ExpressionAttributeValues: { ':t': true },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Stores the task token of the workflow state waiting for the responses. */
  async setTaskToken(callId: string, taskToken: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `CALL#${callId}`, sk: 'META' },
        UpdateExpression: 'SET taskToken = :t',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':t': taskToken },
      }),
    );
  }

  /** Stores the call policy the commencement decision is taken on. */
  async setPolicy(callId: string, policy: CallPolicy): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `CALL#${callId}`, sk: 'META' },
        UpdateExpression: 'SET #p = :p',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#p': 'policy' },
        ExpressionAttributeValues: { ':p': policy },
      }),
    );
  }

  /**
   * Moves an established call to `released` (the initiator hung up); true for exactly one caller, so
   * a retransmitted or duplicated release ends the members' legs once.
   */
  async markReleased(callId: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `CALL#${callId}`, sk: 'META' },
          UpdateExpression: 'SET #s = :released',
          ConditionExpression: '#s = :established',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':released': 'released', ':established': 'established' },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async setStatus(callId: string, status: CallRecord['status']): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `CALL#${callId}`, sk: 'META' },
        UpdateExpression: 'SET #s = :s',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': status },
      }),
    );
  }
}

/** The counts {@link evaluateCommencementCounts} needs, from the call's counters. */
export const legCountsOf = (c: CallRecord['counters']): LegCounts => ({
  ...c,
  pending: c.total - c.accepted - c.lost,
  requiredPending: c.required - c.requiredAccepted - c.requiredLost,
});
