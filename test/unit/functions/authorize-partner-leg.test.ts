/** The partner side of an invitation between systems: each refusal and the relay (TS 23.379 step 5). */
import { describe, expect, it } from 'vitest';
import type { PartnerAgreement } from '#core/model.ts';
import { legSignatureParts } from '#core/partner-leg.ts';
import { signRequest } from '#core/request-signing.ts';
import { authorizePartnerLeg } from '#functions/call-routing/authorize-partner-leg.ts';
import type { AppDeps } from '#functions/shared/deps.ts';

const NOW = 1_800_000_000_000;
const TGI = 'sip:tg@primary.example';
const agreement: PartnerAgreement = {
  partner: 'primary.example',
  apiUrl: 'http://127.0.0.1:1',
  sipUri: 'sip:127.0.0.1:5060',
  keyId: 'k1',
  key: 'zneKPcU1uWCLtxoib_vIR_FXCb-Mi7taHz73uENidI0',
  sharedUserFields: [],
  regroupableGroups: '*',
};

const signed = (member: string, tgi = TGI, callId?: string) =>
  Object.fromEntries(
    Object.entries({
      ...signRequest({
        ...legSignatureParts({ member, tgi, ...(callId ? { callId } : {}) }),
        sender: 'primary.example',
        target: 'partner.example',
        keyId: 'k1',
        key: agreement.key,
        now: NOW,
      }),
      ...(callId ? { 'X-MCPTT-Call': callId } : {}),
    }).map(([k, v]) => [k.toLowerCase(), v]),
  );

const depsWith = (over: Partial<Record<string, unknown>> = {}) => {
  const nonces = new Set<string>();
  const store = {
    getAgreement: async (p: string) => (p === 'primary.example' ? agreement : undefined),
    recordNonce: async (_p: string, nonce: string) => {
      if (nonces.has(nonce)) return false;
      nonces.add(nonce);
      return true;
    },
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
  return { system: 'partner.example', now: () => NOW, store } as unknown as AppDeps;
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
});
