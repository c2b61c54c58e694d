/**
 * The other outcomes of the seed flow over real SIP on loopback, two local systems (TS 23.379,
 * group call on a temporary group formed by group regroup, multiple MCPTT systems; TS 24.379
 * §10.1.1.4.2, §6.3.3.3, §4.4.2): a partner member declines, the partner system is down, a required
 * member does not acknowledge before TNG1 expires (proceed → 200 + Warning 111, abandon → 480 +
 * Warning 112), and the initiator cancels before the call setup completes.
 *
 * Same setup as seed-flow.test.ts: alice and the dispatcher (fire-1, primary.example) and carol
 * (ambulance-1, partner.example) register and affiliate; the dispatcher regroups fire-1 and
 * ambulance-1@partner.example as `seed`; alice calls the TGI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CALL_SETUP_RESULT_TYPE,
  type CallSetupResult,
  parseCallSetupResultXml,
} from '#core/call-setup-result.ts';
import type { LocalConfig } from '#local/config.ts';
import type { LocalSystems } from '#local/systems.ts';
import { callIdOf } from '../../sip/message/accessors.ts';
import { parseMultipart } from '../../sip/message/multipart.ts';
import type { SipResponse } from '../../sip/message/types.ts';
import { demoConfig, startDemo } from '../support/local-systems.ts';
import { regroupSeed, SeedUas } from '../support/seed-scenario.ts';
import type { SipUa } from '../support/sip-ua.ts';

const TGI = 'sip:seed@primary.example';

interface Seed {
  local: LocalSystems;
  alice: SipUa;
  dispatcher: SipUa;
  carol: SipUa;
}

type Group = LocalConfig['systems'][number]['groups'][number];

/** The group `groupId` of system `domain` in the (raw) demo configuration. */
const groupOf = (json: LocalConfig, domain: string, groupId: string): Group => {
  const group = json.systems.find((s) => s.domain === domain)?.groups.find((g) => g.groupId === groupId);
  if (!group) throw new Error(`no group ${groupId} in ${domain}`);
  return group;
};

/**
 * Starts the demo (changed by `edit`), brings alice, the dispatcher and carol online and regroups
 * fire-1 with ambulance-1@partner.example, once for the enclosing describe; stops it all after.
 */
const useSeed = (edit?: (json: LocalConfig) => void): Seed => {
  const seed = {} as Seed;
  const uas = new SeedUas(() => seed.local);
  beforeAll(async () => {
    seed.local = await startDemo({ config: await demoConfig(edit) });
    Object.assign(seed, await uas.online('alice', 'dispatcher', 'carol'));
    await regroupSeed(seed.local);
    // The regroup notices (SIP MESSAGE) reached the affiliated members.
    await seed.dispatcher.drain(300);
    await seed.carol.drain(50);
  }, 60_000);
  afterAll(async () => {
    await uas.close();
    await seed.local?.stop();
  });
  return seed;
};

/** The call setup result of a final response: a part of the multipart 200, or the whole body otherwise. */
const resultOf = (final: SipResponse): CallSetupResult => {
  const contentType = final.headers.get('Content-Type') ?? '';
  if (contentType.toLowerCase().startsWith('multipart/')) {
    const part = parseMultipart(final.body, contentType).find((p) =>
      p.headers.some(([n, v]) => n.toLowerCase() === 'content-type' && v.includes(CALL_SETUP_RESULT_TYPE)),
    );
    expect(part, 'call setup result body part').toBeDefined();
    return parseCallSetupResultXml(part?.body.toString() ?? '');
  }
  expect(contentType).toContain(CALL_SETUP_RESULT_TYPE);
  return parseCallSetupResultXml(final.body.toString());
};

/** alice calls the TGI; the final response (ACKed when 2xx; the UA ACKs the others itself). */
const aliceCalls = async (alice: SipUa, timeoutMs = 15_000): Promise<{ final: SipResponse; ms: number }> => {
  const started = Date.now();
  const { exchange } = await alice.start(alice.invite(TGI));
  const final = await exchange.final(timeoutMs);
  const ms = Date.now() - started;
  if (final.status >= 200 && final.status < 300) await alice.send(alice.ack(exchange.request, final));
  return { final, ms };
};

describe('Feature: outcomes of a group call on a temporary group (demo policies)', () => {
  // fire-1: alice required (the initiator, not invited) + dispatcher; ambulance-1: carol required,
  // actionOnExpiry proceed. Merged: proceed, TNG1 = max(3000, 4000) ms.
  const seed = useSeed();

  it('b. carol (partner, required) declines with 486: the call proceeds, 200 + Warning 111, carol listed as declined 486', async () => {
    const { alice, dispatcher, carol } = seed;
    dispatcher.answerCalls('answer', 30);
    carol.answerCalls(486);
    const { final } = await aliceCalls(alice);
    expect(final.status, final.reason).toBe(200);
    expect(final.headers.get('Warning')).toMatch(/^399 primary\.example "111 /);
    const result = resultOf(final);
    expect(result.outcome).toBe('success');
    expect(result.warningCode).toBe(111);
    expect(result.members).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ member: 'sip:carol@partner.example', state: 'declined', status: 486 }),
        expect.objectContaining({ member: 'sip:dispatcher@primary.example', state: 'accepted', status: 200 }),
      ]),
    );
    expect(result.systems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ system: 'primary.example', invited: 1, accepted: 1 }),
        expect.objectContaining({ system: 'partner.example', invited: 1, accepted: 0, declined: 1 }),
      ]),
    );
    const carolInvite = await carol.takeRequest('INVITE');
    expect(carol.calls.get(callIdOf(carolInvite))?.sent.at(-1)?.status).toBe(486);
    await dispatcher.takeRequest('INVITE');
  }, 30_000);

  it('g. alice cancels before the call setup completes: 487 for her INVITE, a CANCEL to each ringing member', async () => {
    const { alice, dispatcher, carol } = seed;
    await dispatcher.drain(200); // the BYE etc. of the previous call
    await carol.drain(10);
    dispatcher.answerCalls('ring');
    carol.answerCalls('ring');
    const { exchange } = await alice.start(alice.invite(TGI));
    const dispatcherInvite = await dispatcher.takeRequest('INVITE');
    const carolInvite = await carol.takeRequest('INVITE');

    const cancelled = await alice.request(alice.cancel(exchange.request));
    expect(cancelled.response.status).toBe(200);
    const final = await exchange.final(10_000);
    expect(final.status, final.reason).toBe(487);

    // The members stop ringing at once (well before TNG1, 4 s here, would end the setup anyway).
    const dispatcherCancel = await dispatcher.takeRequest('CANCEL', callIdOf(dispatcherInvite), 2_000);
    const carolCancel = await carol.takeRequest('CANCEL', callIdOf(carolInvite), 2_000);
    expect(dispatcherCancel.method).toBe('CANCEL');
    expect(carolCancel.method).toBe('CANCEL');
    // The members' UAs answered their INVITE 487 (RFC 3261 §9.2).
    expect(dispatcher.calls.get(callIdOf(dispatcherInvite))?.sent.at(-1)?.status).toBe(487);
    expect(carol.calls.get(callIdOf(carolInvite))?.sent.at(-1)?.status).toBe(487);
  }, 30_000);

  it('c. the partner system is down: partner.example unavailable with a reason, the call proceeds with the primary member (200)', async () => {
    const { local, alice, dispatcher, carol } = seed;
    await dispatcher.drain(200);
    await carol.drain(10);
    await local.get('partner.example').stop();
    dispatcher.answerCalls('answer', 30);
    const { final } = await aliceCalls(alice, 20_000);
    expect(final.status, final.reason).toBe(200);
    const result = resultOf(final);
    expect(result.outcome).toBe('success');
    expect(result.systems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ system: 'primary.example', invited: 1, accepted: 1 }),
        expect.objectContaining({
          system: 'partner.example',
          invited: 0,
          unavailable: { reason: expect.stringMatching(/\S/) },
        }),
      ]),
    );
    await dispatcher.takeRequest('INVITE');
    console.log(`partner down: ${JSON.stringify(result.systems)}`);
  }, 40_000);
});

/** TNG1 of 1 s on both constituents (the merged timer is the max); the dispatcher required. */
const shortTimerWithRequiredDispatcher =
  (action: 'proceed' | 'abandon') =>
  (json: LocalConfig): void => {
    const fire = groupOf(json, 'primary.example', 'fire-1');
    fire.policy = { ...fire.policy, acknowledgementTimeoutMs: 1000, actionOnExpiry: action };
    fire.members = fire.members.map((m) => (m.mcpttId === 'dispatcher' ? { ...m, required: true } : m));
    const ambulance = groupOf(json, 'partner.example', 'ambulance-1');
    ambulance.policy = { ...ambulance.policy, acknowledgementTimeoutMs: 1000 };
  };

describe('Feature: a required member does not acknowledge in time, action on expiry proceed', () => {
  const seed = useSeed(shortTimerWithRequiredDispatcher('proceed'));

  it('d. the dispatcher (required) only rings, carol answers: after TNG1, 200 + Warning 111', async () => {
    const { alice, dispatcher, carol } = seed;
    dispatcher.answerCalls('ring');
    carol.answerCalls('answer', 30);
    const { final, ms } = await aliceCalls(alice);
    expect(final.status, final.reason).toBe(200);
    expect(final.headers.get('Warning')).toMatch(/^399 primary\.example "111 /);
    expect(ms).toBeGreaterThanOrEqual(900);
    const result = resultOf(final);
    expect(result.outcome).toBe('success');
    expect(result.warningCode).toBe(111);
    expect(result.members).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ member: 'sip:carol@partner.example', state: 'accepted' }),
        expect.objectContaining({ member: 'sip:dispatcher@primary.example', state: 'pending' }),
      ]),
    );
    await dispatcher.takeRequest('INVITE');
    await carol.takeRequest('INVITE');
  }, 30_000);
});

describe('Feature: a required member does not acknowledge in time, action on expiry abandon', () => {
  const seed = useSeed(shortTimerWithRequiredDispatcher('abandon'));

  it('d. the dispatcher (required) only rings, carol answers: after TNG1, 480 + Warning 112; the ringing leg cancelled, the answered one ended', async () => {
    const { alice, dispatcher, carol } = seed;
    dispatcher.answerCalls('ring');
    carol.answerCalls('answer', 30);
    const { final, ms } = await aliceCalls(alice);
    expect(final.status, final.reason).toBe(480);
    expect(final.headers.get('Warning')).toMatch(/^399 primary\.example "112 /);
    expect(ms).toBeGreaterThanOrEqual(900);
    const result = resultOf(final);
    expect(result.outcome).toBe('failure');
    expect(result.warningCode).toBe(112);
    expect(result.members).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ member: 'sip:carol@partner.example', state: 'accepted' }),
        expect.objectContaining({ member: 'sip:dispatcher@primary.example', state: 'pending' }),
      ]),
    );
    const dispatcherInvite = await dispatcher.takeRequest('INVITE');
    const carolInvite = await carol.takeRequest('INVITE');
    await dispatcher.takeRequest('CANCEL', callIdOf(dispatcherInvite), 5_000);
    await carol.takeRequest('BYE', callIdOf(carolInvite), 5_000);
  }, 30_000);
});
