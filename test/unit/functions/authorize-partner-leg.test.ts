/** The partner side of an invitation between systems: each refusal and the relay (TS 23.379 step 5). */
import { describe, expect, it } from 'vitest';
import { legSignatureParts } from '#core/partner-leg.ts';
import { signRequest } from '#core/request-signing.ts';
import {
  authorizePartnerLeg,
  authorizePartnerLegs,
  cachedCallPasses,
  type PartnerLeg,
} from '#functions/call-routing/authorize-partner-leg.ts';
import type { AppDeps } from '#functions/shared/deps.ts';
import { SIGNATURE_MAX_SKEW_MS } from '#functions/shared/partner-auth.ts';
import { PRIMARY_AGREEMENT } from '../../support/partner-agreement.ts';

const NOW = 1_800_000_000_000;
const TGI = 'sip:tg@primary.example';
const agreement = PRIMARY_AGREEMENT;

const signed = (member: string, tgi = TGI, callId?: string, at = NOW) =>
  Object.fromEntries(
    Object.entries({
      ...signRequest({
        ...legSignatureParts({ member, tgi, ...(callId ? { callId } : {}) }),
        sender: 'primary.example',
        target: 'partner.example',
        keyId: 'k1',
        key: agreement.key,
        now: at,
      }),
      ...(callId ? { 'X-MCPTT-Call': callId } : {}),
    }).map(([k, v]) => [k.toLowerCase(), v]),
  );

/**
 * A store that records nonces as DynamoDB would: one per partner (recordNonce), and per call
 * (recordCallNonces: the nonces already in the call's item are the replays; its expiry only grows).
 */
const nonceStore = () => {
  const nonces = new Set<string>();
  const calls = new Map<string, { nonces: Set<string>; expiresAt: number }>();
  return {
    nonces,
    calls,
    recordNonce: async (_p: string, nonce: string) => {
      if (nonces.has(nonce)) return false;
      nonces.add(nonce);
      return true;
    },
    recordCallNonces: async (p: string, callId: string, added: readonly string[], expiresAt: number) => {
      const item = calls.get(`${p}#${callId}`) ?? { nonces: new Set<string>(), expiresAt };
      const replayed = new Set(added.filter((n) => item.nonces.has(n)));
      for (const n of added) item.nonces.add(n);
      item.expiresAt = Math.max(item.expiresAt, expiresAt);
      calls.set(`${p}#${callId}`, item);
      return replayed;
    },
  };
};

const depsWith = (over: Partial<Record<string, unknown>> = {}, now = NOW) => {
  const store = {
    getAgreement: async (p: string) => (p === 'primary.example' ? agreement : undefined),
    ...nonceStore(),
    groupsOfUser: async (id: string) =>
      id === 'sip:carol@partner.example' ? ['sip:amb-1@partner.example'] : [],
    getUser: async (id: string) => (id === 'sip:nobody@partner.example' ? undefined : { mcpttId: id }),
    getMarker: async () => ({ status: 'active', tgi: TGI }),
    listRegistrations: async () => [
      { mcpttId: 'sip:carol@partner.example', contact: 'sip:carol@127.0.0.1:7001', expiresAt: NOW + 1000 },
      { mcpttId: 'sip:carol@partner.example', contact: 'sip:carol@127.0.0.1:7002', expiresAt: NOW + 9000 },
    ],
    ...over,
  };
  return { system: 'partner.example', now: () => now, store } as unknown as AppDeps;
};

describe('Function: authorizePartnerLeg', () => {
  it('relays a signed leg of a regrouped member to its registrations, latest first', async () => {
    const out = await authorizePartnerLeg(
      { target: 'sip:carol@partner.example', tgi: TGI, headers: signed('sip:carol@partner.example') },
      depsWith(),
    );
    expect(out).toEqual({
      action: 'relay',
      targets: [{ contact: 'sip:carol@127.0.0.1:7002' }, { contact: 'sip:carol@127.0.0.1:7001' }],
    });
  });

  it('refuses a replayed leg (same nonce) with 403', async () => {
    const deps = depsWith();
    const headers = signed('sip:carol@partner.example');
    expect(
      (await authorizePartnerLeg({ target: 'sip:carol@partner.example', tgi: TGI, headers }, deps)).action,
    ).toBe('relay');
    expect(
      await authorizePartnerLeg({ target: 'sip:carol@partner.example', tgi: TGI, headers }, deps),
    ).toMatchObject({
      action: 'reject',
      status: 403,
      warning: 'replayed partner leg',
    });
  });

  it('refuses a leg signed for another member (tampered target)', async () => {
    const out = await authorizePartnerLeg(
      { target: 'sip:dave@partner.example', tgi: TGI, headers: signed('sip:carol@partner.example') },
      depsWith(),
    );
    expect(out).toMatchObject({ action: 'reject', status: 403 });
  });

  it('answers 404 for an unknown member and 403 Warning 116 for a member not regrouped into the TGI', async () => {
    expect(
      await authorizePartnerLeg(
        { target: 'sip:nobody@partner.example', tgi: TGI, headers: signed('sip:nobody@partner.example') },
        depsWith(),
      ),
    ).toMatchObject({ action: 'reject', status: 404 });
    expect(
      await authorizePartnerLeg(
        { target: 'sip:carol@partner.example', tgi: TGI, headers: signed('sip:carol@partner.example') },
        depsWith({ getMarker: async () => ({ status: 'active', tgi: 'sip:other@primary.example' }) }),
      ),
    ).toMatchObject({ action: 'reject', status: 403, warningCode: 116 });
  });

  it('answers 480 when the member is not registered, and refuses a TGI of another system', async () => {
    expect(
      await authorizePartnerLeg(
        { target: 'sip:carol@partner.example', tgi: TGI, headers: signed('sip:carol@partner.example') },
        depsWith({ listRegistrations: async () => [] }),
      ),
    ).toMatchObject({ action: 'reject', status: 480 });
    const foreign = 'sip:tg@third.example';
    expect(
      await authorizePartnerLeg(
        {
          target: 'sip:carol@partner.example',
          tgi: foreign,
          headers: signed('sip:carol@partner.example', foreign),
        },
        depsWith(),
      ),
    ).toMatchObject({
      action: 'reject',
      status: 403,
      warning: `${foreign} is not a temporary group of primary.example`,
    });
  });

  describe('a leg naming its call, against the call pass of its interrogation', () => {
    const pass = {
      tgi: TGI,
      callId: 'call-7',
      members: { 'sip:carol@partner.example': ['sip:carol@127.0.0.1:7009'], 'sip:erin@partner.example': [] },
      expiresAt: NOW + 60_000,
    };
    const noStoreChecks = {
      getCallPass: async (tgi: string, callId: string) =>
        tgi === TGI && callId === 'call-7' ? pass : undefined,
      groupsOfUser: async () => {
        throw new Error('no per-leg group read with a call pass');
      },
      listRegistrations: async () => {
        throw new Error('no per-leg registration read with a call pass');
      },
    };

    it('relays to the contacts the pass holds, with no read of groups or registrations', async () => {
      const out = await authorizePartnerLeg(
        {
          target: 'sip:carol@partner.example',
          tgi: TGI,
          headers: signed('sip:carol@partner.example', TGI, 'call-7'),
        },
        depsWith(noStoreChecks),
      );
      expect(out).toEqual({ action: 'relay', targets: [{ contact: 'sip:carol@127.0.0.1:7009' }] });
    });

    it('refuses a member the interrogation did not find (116), answers 480 for one not registered', async () => {
      expect(
        await authorizePartnerLeg(
          {
            target: 'sip:dave@partner.example',
            tgi: TGI,
            headers: signed('sip:dave@partner.example', TGI, 'call-7'),
          },
          depsWith(noStoreChecks),
        ),
      ).toMatchObject({ action: 'reject', status: 403, warningCode: 116 });
      expect(
        await authorizePartnerLeg(
          {
            target: 'sip:erin@partner.example',
            tgi: TGI,
            headers: signed('sip:erin@partner.example', TGI, 'call-7'),
          },
          depsWith(noStoreChecks),
        ),
      ).toMatchObject({ action: 'reject', status: 480 });
    });

    it('refuses a leg whose call was changed after signing', async () => {
      const headers = { ...signed('sip:carol@partner.example', TGI, 'call-7'), 'x-mcptt-call': 'call-8' };
      expect(
        await authorizePartnerLeg(
          { target: 'sip:carol@partner.example', tgi: TGI, headers },
          depsWith(noStoreChecks),
        ),
      ).toMatchObject({ action: 'reject', status: 403 });
    });

    it('checks from the store when there is no pass for the call', async () => {
      const out = await authorizePartnerLeg(
        {
          target: 'sip:carol@partner.example',
          tgi: TGI,
          headers: signed('sip:carol@partner.example', TGI, 'call-9'),
        },
        depsWith({ getCallPass: async () => undefined }),
      );
      expect(out).toMatchObject({ action: 'relay', targets: [{ contact: 'sip:carol@127.0.0.1:7002' }, {}] });
    });
  });

  describe('authorizePartnerLegs: the legs an edge received together', () => {
    const members = Array.from({ length: 50 }, (_, i) => `sip:m${i}@partner.example`);
    const passOf = (callId: string, expiresAt = NOW + 60_000) => ({
      tgi: TGI,
      callId,
      members: Object.fromEntries(members.map((m, i) => [m, [`sip:m${i}@127.0.0.1:${8000 + i}`]])),
      expiresAt,
    });
    /** A store with the pass of `callId` (if any), counting what a batch costs. */
    const counting = (pass: ReturnType<typeof passOf> | undefined) => {
      const count = { getCallPass: 0, recordCallNonces: 0, recordNonce: 0, getAgreement: 0, perLeg: 0 };
      const base = nonceStore();
      const store = {
        ...base,
        getAgreement: async (p: string) => {
          count.getAgreement++;
          return p === 'primary.example' ? agreement : undefined;
        },
        getCallPass: async (tgi: string, callId: string) => {
          count.getCallPass++;
          await new Promise((r) => setTimeout(r, 5)); // a round trip: every leg asks before it ends
          return pass && tgi === pass.tgi && callId === pass.callId ? pass : undefined;
        },
        recordCallNonces: (...args: Parameters<typeof base.recordCallNonces>) => {
          count.recordCallNonces++;
          return base.recordCallNonces(...args);
        },
        recordNonce: (...args: Parameters<typeof base.recordNonce>) => {
          count.recordNonce++;
          return base.recordNonce(...args);
        },
        groupsOfUser: async () => {
          count.perLeg++;
          return ['sip:amb-1@partner.example'];
        },
        getUser: async (id: string) => ({ mcpttId: id }),
        getMarker: async () => ({ status: 'active', tgi: TGI }),
        listRegistrations: async (id: string) => {
          count.perLeg++;
          return [
            { mcpttId: id, contact: `${id.replace('@partner.example', '')}@store`, expiresAt: NOW + 1 },
          ];
        },
      };
      const deps = (now = NOW) =>
        ({ system: 'partner.example', now: () => now, store }) as unknown as AppDeps;
      return { count, store, deps };
    };
    const legOf = (member: string, callId?: string, at = NOW): PartnerLeg => ({
      target: member,
      tgi: TGI,
      headers: signed(member, TGI, callId, at),
    });

    it('50 legs of one call: one pass read and one nonce write (kept until the latest signature expires)', async () => {
      const { count, store, deps } = counting(passOf('batch-1'));
      // Signed over a few moments: the nonces are kept as long as the latest signature could pass.
      const legs = members.map((m, i) => legOf(m, 'batch-1', NOW - 49 + i));
      const routes = await authorizePartnerLegs(legs, deps());
      expect(routes).toEqual(
        members.map((_, i) => ({
          action: 'relay',
          targets: [{ contact: `sip:m${i}@127.0.0.1:${8000 + i}` }],
        })),
      );
      expect(count).toMatchObject({ getCallPass: 1, recordCallNonces: 1, recordNonce: 0, perLeg: 0 });
      expect(count.getAgreement).toBeLessThanOrEqual(1);
      const item = store.calls.get('primary.example#batch-1');
      expect(item?.nonces.size).toBe(50);
      expect(item?.expiresAt).toBe(NOW + SIGNATURE_MAX_SKEW_MS + 1);
    });

    it('refuses a leg replayed in a later batch (same nonce, same call), and relays the fresh one beside it', async () => {
      const { deps } = counting(passOf('batch-2'));
      const [a, b, c] = [
        legOf(members[0] as string, 'batch-2'),
        legOf(members[1] as string, 'batch-2'),
        legOf(members[2] as string, 'batch-2'),
      ] as PartnerLeg[];
      expect((await authorizePartnerLegs([a, b] as PartnerLeg[], deps())).map((r) => r.action)).toEqual([
        'relay',
        'relay',
      ]);
      const later = await authorizePartnerLegs([c, a] as PartnerLeg[], deps(NOW + 1000));
      expect(later[0]).toMatchObject({ action: 'relay' });
      expect(later[1]).toEqual({
        action: 'reject',
        status: 403,
        reason: 'Forbidden',
        warning: 'replayed partner leg',
      });
    });

    it('refuses the second of two legs with the same nonce in one batch, naming a call or not', async () => {
      const { deps } = counting(passOf('batch-3'));
      const named = legOf(members[3] as string, 'batch-3');
      const unnamed = legOf('sip:carol@partner.example');
      const routes = await authorizePartnerLegs([named, unnamed, named, unnamed], deps());
      expect(routes.map((r) => r.action)).toEqual(['relay', 'relay', 'reject', 'reject']);
      expect(routes[2]).toMatchObject({ status: 403, warning: 'replayed partner leg' });
      expect(routes[3]).toMatchObject({ status: 403, warning: 'replayed partner leg' });
    });

    it("a leg naming a call without a pass records its nonce in the call's item and is checked from the store", async () => {
      const { count, store, deps } = counting(undefined);
      const leg = legOf('sip:carol@partner.example', 'no-pass');
      expect(await authorizePartnerLegs([leg], deps())).toEqual([
        { action: 'relay', targets: [{ contact: 'sip:carol@store' }] },
      ]);
      expect(count).toMatchObject({ getCallPass: 1, recordCallNonces: 1, recordNonce: 0, perLeg: 2 });
      expect([...(store.calls.get('primary.example#no-pass')?.nonces ?? [])]).toEqual([
        leg.headers['x-mcptt-nonce'],
      ]);
      expect(await authorizePartnerLegs([leg], deps(NOW + 1000))).toMatchObject([
        { action: 'reject', status: 403, warning: 'replayed partner leg' },
      ]);
    });

    it('a replay arriving after the pass expired is still refused', async () => {
      const { deps } = counting(passOf('short-pass', NOW + 1000));
      const leg = legOf(members[4] as string, 'short-pass');
      expect(await authorizePartnerLegs([leg], deps())).toMatchObject([{ action: 'relay' }]);
      // The pass has expired (checked from the store), the signature has not.
      expect(await authorizePartnerLegs([leg], deps(NOW + 60_000))).toMatchObject([
        { action: 'reject', status: 403, warning: 'replayed partner leg' },
      ]);
    });

    it('lets expired passes go at the next read, not once a thousand are held', async () => {
      const later = NOW + 10 * 60_000;
      for (const callId of ['gone-1', 'gone-2', 'gone-3']) {
        const { deps } = counting(passOf(callId, NOW + 1000));
        await authorizePartnerLegs([legOf(members[6] as string, callId)], deps());
      }
      expect(cachedCallPasses()).toBeGreaterThanOrEqual(3);
      const { deps } = counting(passOf('fresh', later + 60_000));
      const leg = legOf(members[7] as string, 'fresh', later);
      expect(await authorizePartnerLegs([leg], deps(later))).toMatchObject([{ action: 'relay' }]);
      expect(cachedCallPasses()).toBe(1);
    });

    it('a failed pass read is not kept: the next batch reads again', async () => {
      const { count, store, deps } = counting(passOf('flaky'));
      const read = store.getCallPass;
      store.getCallPass = async () => {
        count.getCallPass++;
        store.getCallPass = read;
        throw new Error('throttled');
      };
      await expect(authorizePartnerLegs([legOf(members[5] as string, 'flaky')], deps())).rejects.toThrow(
        'throttled',
      );
      expect(await authorizePartnerLegs([legOf(members[5] as string, 'flaky')], deps())).toMatchObject([
        { action: 'relay' },
      ]);
      expect(count.getCallPass).toBe(2);
    });

    it('keeps refusals leg by leg, in order, among legs that pass', async () => {
      const { deps } = counting(passOf('mixed'));
      const good = legOf(members[6] as string, 'mixed');
      const tampered = { ...legOf(members[7] as string, 'mixed'), target: members[8] as string };
      const unsigned = { target: members[9] as string, tgi: TGI, headers: {} };
      const routes = await authorizePartnerLegs([tampered, good, unsigned], deps());
      expect(routes).toMatchObject([
        { action: 'reject', status: 403, warning: 'bad signature' },
        { action: 'relay' },
        { action: 'reject', status: 403, warning: 'unsigned partner leg' },
      ]);
    });
  });
});
