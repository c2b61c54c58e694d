/**
 * A call the edge answers itself (the edge as UAS, RFC 3261 §13.3): the final response a
 * function decided is sent through the INVITE server transaction; a 2xx is retransmitted until the
 * caller's ACK arrives (§13.3.1.4) and the dialog ends with the caller's BYE (§15.1.2).
 */
import { randomBytes } from 'node:crypto';
import { createResponse, cseqOf } from '../sip/message/accessors.ts';
import type { SipRequest, SipResponse } from '../sip/message/types.ts';

export interface UasCallIo {
  respond(res: SipResponse): void;
  retransmit(res: SipResponse): void;
  timers: { T1: number; T2: number };
  ended(call: UasCall): void;
}

export class UasCall {
  state: 'confirming' | 'confirmed' | 'ended' = 'confirming';
  readonly tag = randomBytes(6).toString('hex');
  private retransmitTimer: NodeJS.Timeout | undefined;
  private giveUp: NodeJS.Timeout | undefined;
  private interval: number;
  private readonly ok: SipResponse;

  constructor(
    readonly invite: SipRequest,
    answer: {
      contact: string;
      sdp?: string;
      body?: { contentType: string; data: string };
      headers?: [string, string][];
    },
    private readonly io: UasCallIo,
  ) {
    this.ok = createResponse(invite, 200, 'OK', {
      toTag: this.tag,
      headers: [['Contact', `<${answer.contact}>`], ...(answer.headers ?? [])],
      ...(answer.body
        ? { body: Buffer.from(answer.body.data), contentType: answer.body.contentType }
        : answer.sdp
          ? { body: Buffer.from(answer.sdp), contentType: 'application/sdp' }
          : {}),
    });
    this.io.respond(this.ok);
    this.interval = io.timers.T1;
    this.retransmitTimer = setTimeout(() => this.retransmit(), this.interval);
    this.giveUp = setTimeout(() => this.end(), 64 * io.timers.T1);
  }

  private retransmit(): void {
    if (this.state !== 'confirming') return;
    this.io.retransmit(this.ok);
    this.interval = Math.min(this.interval * 2, this.io.timers.T2);
    this.retransmitTimer = setTimeout(() => this.retransmit(), this.interval);
  }

  onAck(ack: SipRequest): void {
    if (this.state !== 'confirming' || cseqOf(ack).seq !== cseqOf(this.invite).seq) return;
    this.state = 'confirmed';
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.giveUp);
  }

  onBye(): void {
    this.end();
  }

  end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.giveUp);
    this.io.ended(this);
  }
}
