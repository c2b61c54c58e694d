/**
 * What the edge control API keeps of the legs it originated: one record per (callId, legId), so a
 * retried batch never invites a member twice and `GET /v1/legs/{legId}` can tell a leg's state.
 *
 * Records are grouped by call: a call's records go together, `retentionMs` after its last batch, once
 * none of its legs is still pending or answered (a live leg is needed for its CANCEL or BYE). A leg that
 * ended or failed keeps its status, reason and Warning but not the answer's body, which only mattered
 * while the dialog lived (the leg report carried it to the functions). At 500 member legs a second a
 * minute of records is 30,000 of them, so what each keeps is kept small (decision 0017).
 */
import type { LegOutcome, OutboundLeg } from './outbound-leg.ts';

/** A leg's outcome as the API shows it: the answer's body as text. */
export type RecordedOutcome = Omit<LegOutcome, 'body'> & { body?: string };

export interface LegRecord {
  readonly callId: string;
  readonly legId: string;
  readonly target: string;
  /** The live leg; let go once it failed or ended. */
  leg: OutboundLeg | undefined;
  sipCallId: string | undefined;
  state: 'pending' | 'answered' | 'failed' | 'ended';
  outcome: RecordedOutcome | undefined;
}

interface CallRecords {
  readonly legs: Map<string, LegRecord>;
  lastBatchAt: number;
}

/** The record minus the live leg: what `GET /v1/legs/{legId}` returns. */
export const legView = (r: LegRecord): Omit<LegRecord, 'leg'> => {
  const { leg: _leg, ...view } = r;
  return view;
};

export class LegRecords {
  private readonly calls = new Map<string, CallRecords>();

  constructor(
    private readonly retentionMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(callId: string, legId: string): LegRecord | undefined {
    return this.calls.get(callId)?.legs.get(legId);
  }

  /** A new pending record; the call's retention starts again. */
  add(callId: string, legId: string, target: string): LegRecord {
    let call = this.calls.get(callId);
    if (!call) {
      call = { legs: new Map(), lastBatchAt: 0 };
      this.calls.set(callId, call);
    }
    call.lastBatchAt = this.now();
    const record: LegRecord = {
      callId,
      legId,
      target,
      leg: undefined,
      sipCallId: undefined,
      state: 'pending',
      outcome: undefined,
    };
    call.legs.set(legId, record);
    return record;
  }

  /** The leg's final response: a 2xx keeps the leg (and the answer) for its BYE, a failure lets both go. */
  final(record: LegRecord, outcome: RecordedOutcome): void {
    if (outcome.status < 300) {
      record.state = 'answered';
      record.outcome = outcome;
    } else this.settle(record, 'failed', outcome);
  }

  /** The leg failed or its dialog ended: only the status line and Warning stay. */
  settle(record: LegRecord, state: 'failed' | 'ended', outcome = record.outcome): void {
    record.state = state;
    record.leg = undefined;
    record.outcome = outcome && {
      status: outcome.status,
      reason: outcome.reason,
      ...(outcome.warning !== undefined ? { warning: outcome.warning } : {}),
    };
  }

  /** Drops the calls whose last batch is older than the retention and whose legs are all over. */
  prune(): void {
    const cutoff = this.now() - this.retentionMs;
    for (const [callId, call] of this.calls) {
      if (call.lastBatchAt >= cutoff) continue;
      let live = false;
      for (const r of call.legs.values())
        if (r.state === 'pending' || r.state === 'answered') {
          live = true;
          break;
        }
      if (!live) this.calls.delete(callId);
    }
  }

  /** Records held (all calls). */
  size(): number {
    let n = 0;
    for (const call of this.calls.values()) n += call.legs.size;
    return n;
  }
}
