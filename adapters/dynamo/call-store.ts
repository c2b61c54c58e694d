/**
 * Calls and call legs of the group call workflow, on the system's table (single-item writes only):
 *
 * | item | pk | sk |
 * |---|---|---|
 * | call | CALL#<callId> | META (counters: total, required, accepted, requiredAccepted, lost, requiredLost) |
 * | leg  | CALL#<callId> | LEG#<legId> (state pending → accepted / declined / failed, once) |
 * | SIP Call-ID claim | SIPCALL#<sip Call-ID> | META (→ callId; a retransmitted INVITE finds it) |
 *
 * A member's response moves its leg out of `pending` with a conditional write, so a duplicated or
 * retransmitted response counts once; only that first write adds to the call's counters (ADD, atomic).
 * The call's `decided` flag is set by one conditional write: exactly one caller wins it.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
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

/** Leg writes in flight at once (DynamoDB takes them in parallel; the SDK's socket pool is 50). */
export const LEG_WRITE_CONCURRENCY = 25;

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

const ZERO = { total: 0, required: 0, accepted: 0, requiredAccepted: 0, lost: 0, requiredLost: 0 };
const RETENTION_MS = 7 * 24 * 3600_000;

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
          counters: ZERO,
          ttl: ttlOf(call.createdAt + RETENTION_MS),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async getCall(callId: string): Promise<CallRecord | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: `CALL#${callId}`, sk: 'META' },
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    const { pk: _pk, sk: _sk, type: _t, ttl: _ttl, ...call } = out.Item;
    return call as CallRecord;
  }

  /**
   * Stores pending legs (idempotent per leg) and adds them to the call's totals. At most
   * {@link LEG_WRITE_CONCURRENCY} conditional puts are in flight at once.
   */
  async addLegs(callId: string, legs: Omit<LegRecord, 'callId' | 'state'>[]): Promise<number> {
    let added = 0;
    let required = 0;
    const put = async (leg: Omit<LegRecord, 'callId' | 'state'>) => {
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              pk: `CALL#${callId}`,
              sk: `LEG#${leg.legId}`,
              type: 'leg',
              callId,
              ...leg,
              state: 'pending',
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        added++;
        if (leg.required) required++;
      } catch (e) {
        if (!isConditionFailure(e)) throw e;
      }
    };
    await mapLimit(legs, LEG_WRITE_CONCURRENCY, put);
    if (added > 0) {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `CALL#${callId}`, sk: 'META' },
          UpdateExpression: 'ADD counters.#t :a, counters.#r :r',
          ExpressionAttributeNames: { '#t': 'total', '#r': 'required' },
          ExpressionAttributeValues: { ':a': added, ':r': required },
        }),
      );
    }
    return added;
  }

  async listLegs(callId: string): Promise<LegRecord[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :leg)',
        ExpressionAttributeValues: { ':pk': `CALL#${callId}`, ':leg': 'LEG#' },
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map(({ pk: _pk, sk: _sk, type: _t, ...leg }) => leg as LegRecord);
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
   * Records the final answers of several legs of one call: each leg moves out of `pending` with its
   * own conditional write (a duplicate counts once), then ONE counter update adds every counted answer
   * (ADD, atomic) and reads back the call's counters, policy and task token. `counted` lists the legs
   * this call counted; when none was, nothing else is written.
   */
  async recordResponses(
    callId: string,
    answers: readonly LegAnswer[],
  ): Promise<RecordedResponse & { counted: { legId: string; required: boolean }[] }> {
    const counted: { legId: string; required: boolean; accepted: boolean }[] = [];
    const record = async (answer: LegAnswer) => {
      try {
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: `CALL#${callId}`, sk: `LEG#${answer.legId}` },
            UpdateExpression: 'SET #s = :s, #st = :st, reason = :reason',
            ConditionExpression: '#s = :pending',
            ExpressionAttributeNames: { '#s': 'state', '#st': 'status' },
            ExpressionAttributeValues: {
              ':s': answer.state,
              ':st': answer.status ?? 0,
              ':reason': answer.reason ?? '',
              ':pending': 'pending',
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        counted.push({
          legId: answer.legId,
          required: out.Attributes?.required === true,
          accepted: answer.state === 'accepted',
        });
      } catch (e) {
        if (!isConditionFailure(e)) throw e;
      }
    };
    await mapLimit(answers, LEG_WRITE_CONCURRENCY, record);
    if (counted.length === 0) return { counted: [], counters: { ...ZERO }, call: {} };
    const add: Record<string, number> = {};
    const bump = (k: string) => {
      add[k] = (add[k] ?? 0) + 1;
    };
    for (const c of counted) {
      bump(c.accepted ? 'accepted' : 'lost');
      if (c.required) bump(c.accepted ? 'requiredAccepted' : 'requiredLost');
    }
    const names: Record<string, string> = {};
    const values: Record<string, number> = {};
    const parts = Object.entries(add).map(([k, v], i) => {
      names[`#c${i}`] = k;
      values[`:v${i}`] = v;
      return `counters.#c${i} :v${i}`;
    });
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `CALL#${callId}`, sk: 'META' },
        UpdateExpression: `ADD ${parts.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    const meta = (out.Attributes ?? {}) as Partial<CallRecord>;
    return {
      counted: counted.map(({ legId, required }) => ({ legId, required })),
      counters: { ...ZERO, ...meta.counters },
      call: {
        ...(meta.policy !== undefined ? { policy: meta.policy } : {}),
        ...(meta.taskToken !== undefined ? { taskToken: meta.taskToken } : {}),
        ...(meta.decided !== undefined ? { decided: meta.decided } : {}),
      },
    };
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
