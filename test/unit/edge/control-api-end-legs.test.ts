/**
 * `POST /v1/legs/end`: the functions end a call's member legs in one request (CANCEL the ringing,
 * BYE the answered); each leg on its own, unknown legs named, bad requests refused with 400.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlApi, startControlApi } from '../../../edge/control-api.ts';
import type { SipEdge } from '../../../edge/sip-edge.ts';

describe('Edge control API: POST /v1/legs/end', () => {
  const actions: string[] = [];
  /** Legs the fake edge originates: `bob` can be cancelled, `carol` is answered (BYE works), `dave` neither. */
  const edge = {
    domain: 'primary.example',
    originate: (o: { to: string }) => {
      const who = o.to.replace(/^sip:|@.*$/g, '');
      return {
        sipCallId: `leg-${who}`,
        cancel: () => {
          actions.push(`cancel ${who}`);
          return who === 'bob';
        },
        bye: () => {
          actions.push(`bye ${who}`);
          return who === 'carol';
        },
      };
    },
  } as unknown as SipEdge;
  let api: ControlApi;
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${api.url}${path}`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    api = await startControlApi({ edge, port: 0, token: 'tok' });
    const originated = await post('/v1/legs', {
      callId: 'c-1',
      from: 'sip:tg@primary.example',
      legs: ['bob', 'carol', 'dave'].map((m) => ({ legId: m, target: `sip:${m}@primary.example` })),
    });
    expect(originated.status).toBe(202);
  });
  afterAll(async () => api?.close());

  it('ends every listed leg with its own action, and names the legs it does not hold', async () => {
    const out = await post('/v1/legs/end', {
      callId: 'c-1',
      legs: [
        { legId: 'bob', action: 'cancel' },
        { legId: 'carol', action: 'bye' },
        { legId: 'dave', action: 'bye' },
        { legId: 'erin', action: 'cancel' },
      ],
    });
    expect(out).toEqual({
      status: 200,
      body: {
        legs: [
          { legId: 'bob', action: 'cancel', found: true, done: true },
          { legId: 'carol', action: 'bye', found: true, done: true },
          { legId: 'dave', action: 'bye', found: true, done: false },
          { legId: 'erin', action: 'cancel', found: false, done: false },
        ],
      },
    });
    expect(actions).toEqual(['cancel bob', 'bye carol', 'bye dave']);
    // The leg of another call with the same legId is not this call's.
    expect(
      (await post('/v1/legs/end', { callId: 'c-2', legs: [{ legId: 'bob', action: 'cancel' }] })).body,
    ).toEqual({
      legs: [{ legId: 'bob', action: 'cancel', found: false, done: false }],
    });
  });

  it.each([
    ['no legs', { callId: 'c-1', legs: [] }],
    ['an unknown action', { callId: 'c-1', legs: [{ legId: 'bob', action: 'hangup' }] }],
    ['no call id', { legs: [{ legId: 'bob', action: 'bye' }] }],
  ])('refuses %s with 400 and says why', async (_, body) => {
    const out = await post('/v1/legs/end', body);
    expect(out.status).toBe(400);
    expect(out.body).toMatchObject({
      error: 'bad_request',
      message: expect.stringMatching(/invalid request/),
    });
  });
});
