/**
 * The control API's leg records: per call, kept for retried batches and queries until the call's
 * legs are all over and its last batch is older than the retention; an ended leg keeps its status
 * line but not the answer's body.
 */
import { describe, expect, it } from 'vitest';
import { LegRecords, legView } from '../../../edge/leg-records.ts';
import type { OutboundLeg } from '../../../edge/outbound-leg.ts';

const clock = () => {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};
const fakeLeg = {} as OutboundLeg;

describe('LegRecords', () => {
  it('finds a record by call and leg, and only there', () => {
    const records = new LegRecords(60_000);
    const r = records.add('call-1', 'bob', 'sip:bob@primary.example');
    expect(records.get('call-1', 'bob')).toBe(r);
    expect(records.get('call-1', 'carol')).toBeUndefined();
    expect(records.get('call-2', 'bob')).toBeUndefined();
    expect(r.state).toBe('pending');
  });

  it('keeps the answer while the leg is answered, and only its status line once it ended', () => {
    const records = new LegRecords(60_000);
    const r = records.add('call-1', 'bob', 'sip:bob@primary.example');
    r.leg = fakeLeg;
    records.final(r, { status: 200, reason: 'OK', body: 'v=0\r\n', contentType: 'application/sdp' });
    expect(r.state).toBe('answered');
    expect(r.leg).toBe(fakeLeg);
    expect(r.outcome).toEqual({ status: 200, reason: 'OK', body: 'v=0\r\n', contentType: 'application/sdp' });
    records.settle(r, 'ended');
    expect(r.state).toBe('ended');
    expect(r.leg).toBeUndefined();
    expect(r.outcome).toEqual({ status: 200, reason: 'OK' });
  });

  it('lets a failed leg go at once and keeps its Warning', () => {
    const records = new LegRecords(60_000);
    const r = records.add('call-1', 'bob', 'sip:bob@primary.example');
    r.leg = fakeLeg;
    records.final(r, { status: 403, reason: 'Forbidden', warning: '399 edge "no"' });
    expect(r.state).toBe('failed');
    expect(r.leg).toBeUndefined();
    expect(r.outcome).toEqual({ status: 403, reason: 'Forbidden', warning: '399 edge "no"' });
  });

  it('drops a call only when its legs are all over and its last batch is older than the retention', () => {
    const c = clock();
    const records = new LegRecords(60_000, c.now);
    const bob = records.add('call-1', 'bob', 'sip:bob@primary.example');
    const carol = records.add('call-1', 'carol', 'sip:carol@primary.example');
    records.final(bob, { status: 486, reason: 'Busy Here' });
    records.final(carol, { status: 200, reason: 'OK' });
    c.advance(61_000);
    records.prune();
    expect(records.size()).toBe(2); // carol is still answered: her BYE needs the record
    records.settle(carol, 'ended');
    records.prune();
    expect(records.size()).toBe(0);
    expect(records.get('call-1', 'bob')).toBeUndefined();
  });

  it('starts the retention again with each batch of the call', () => {
    const c = clock();
    const records = new LegRecords(60_000, c.now);
    records.settle(records.add('call-1', 'bob', 'sip:bob@primary.example'), 'failed', {
      status: 408,
      reason: 'Request Timeout',
    });
    c.advance(50_000);
    records.settle(records.add('call-1', 'carol', 'sip:carol@primary.example'), 'failed', {
      status: 408,
      reason: 'Request Timeout',
    });
    c.advance(20_000);
    records.prune();
    expect(records.get('call-1', 'bob')?.state).toBe('failed'); // a retried first batch is still recognized
    c.advance(41_000);
    records.prune();
    expect(records.size()).toBe(0);
  });

  it('shows a record without its live leg', () => {
    const records = new LegRecords(60_000);
    const r = records.add('call-1', 'bob', 'sip:bob@primary.example');
    r.leg = fakeLeg;
    r.sipCallId = 'abc@edge';
    expect(JSON.parse(JSON.stringify(legView(r)))).toEqual({
      callId: 'call-1',
      legId: 'bob',
      target: 'sip:bob@primary.example',
      sipCallId: 'abc@edge',
      state: 'pending',
    });
  });
});
