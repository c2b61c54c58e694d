/**
 * Calls through running edges over real SIP: alice calls bob (a test UA registered as callee)
 * through the primary edge acting as a B2BUA (RFC 3261 §12–§16), CANCEL, BYE from either side; a
 * group regrouped on the partner is redirected with 302 (TS 23.379); and the edge's refusals
 * (404, 480, 405, 501, 483) and OPTIONS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystems } from '#local/systems.ts';
import { callIdOf, parseNameAddr, toTag } from '../../../sip/message/accessors.ts';
import { serializeMessage } from '../../../sip/message/serializer.ts';
import type { SipResponse } from '../../../sip/message/types.ts';
import { call, enc, login, startDemo } from '../../support/local-systems.ts';
import { SipUa } from '../../support/sip-ua.ts';

const uriOf = (value: string | undefined) => parseNameAddr(value ?? '', 'address').uri;

describe('Feature: calls through the SIP edge', () => {
  let local: LocalSystems;
  let alice: SipUa;
  let bob: SipUa;
  const uas: SipUa[] = [];

  const ua = async (user: string, domain = 'primary.example', transport: 'udp' | 'tcp' = 'udp') => {
    const u = await SipUa.start({
      user,
      password: `${user}-pass`,
      domain,
      edge: local.get(domain).edge,
      transport,
    });
    uas.push(u);
    return u;
  };

  beforeAll(async () => {
    local = await startDemo();
    alice = await ua('alice');
    bob = await ua('bob');
    const registered = await bob.request(bob.register({ expires: 600 }));
    expect(registered.response.status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(uas.map((u) => u.close()));
    await local?.stop();
  });

  const primaryEdge = () => local.get('primary.example').edge;

  /** alice calls bob, who answers: returns both sides once alice's ACK went out. */
  const establish = async () => {
    bob.answerCalls('answer');
    const { exchange, challenge } = await alice.start(alice.invite('sip:bob@primary.example'));
    const ok = await exchange.final();
    expect(ok.status).toBe(200);
    await alice.send(alice.ack(exchange.request, ok));
    const bobInvite = await bob.takeRequest('INVITE');
    const bobCall = bob.calls.get(callIdOf(bobInvite));
    if (!bobCall) throw new Error('bob did not record the call');
    return { invite: exchange.request, exchange, ok, challenge, bobInvite, bobCall };
  };

  describe('Scenario: alice calls bob', () => {
    it('407 first, then 180 and 200 relayed from bob; ACK; alice hangs up (BYE relayed to bob)', async () => {
      const { invite, exchange, ok, challenge, bobInvite, bobCall } = await establish();

      // Proxy authentication (§22.3), SHA-256 offered first.
      expect(challenge?.status).toBe(407);
      expect(challenge?.headers.getAll('Proxy-Authenticate')[0]).toMatch(/algorithm=SHA-256/);
      expect(invite.headers.get('Proxy-Authorization')).toMatch(/^Digest username="alice"/);

      // What alice saw: 100, 180, 200 (To tag of the edge, the edge as Contact, bob's SDP).
      expect(exchange.responses.map((r) => r.status)).toEqual([100, 180, 200]);
      const ringing = exchange.responses[1] as SipResponse;
      expect(toTag(ok)).toBeDefined();
      expect(toTag(ringing)).toBe(toTag(ok));
      const edge = primaryEdge();
      expect(uriOf(ok.headers.get('Contact'))).toBe(`sip:edge@127.0.0.1:${edge.udp.port}`);
      expect(ok.headers.get('Content-Type')).toBe('application/sdp');
      expect(ok.body.toString()).toMatch(/^o=bob /m);

      // What bob saw: a new call leg (B2BUA) from alice, Max-Forwards decremented, alice's offer.
      expect(callIdOf(bobInvite)).not.toBe(callIdOf(invite));
      expect(uriOf(bobInvite.headers.get('From'))).toBe('sip:alice@primary.example');
      expect(bobInvite.uri).toBe(bob.contact);
      expect(bobInvite.headers.get('Max-Forwards')).toBe('69');
      expect(bobInvite.body.toString()).toMatch(/^o=alice /m);
      expect(bobInvite.headers.get('Proxy-Authorization')).toBeUndefined();
      // The edge ACKed bob's 200 itself (§13.2.2.4).
      await bob.takeRequest('ACK', bobCall.dialog.callId);
      expect(bobCall.acked).toBe(true);

      expect(edge.callCount()).toBe(1);

      const bye = await alice.request(alice.bye(alice.dialogOf(invite, ok)));
      expect(bye.response.status).toBe(200);
      const bobBye = await bob.takeRequest('BYE', bobCall.dialog.callId);
      expect(toTag(bobBye)).toBe(bobCall.tag);
      expect(bobCall.ended).toBe(true);
      expect(edge.callCount()).toBe(0);
    });

    it('the relayed 200 is retransmitted until alice ACKs, then no more (§13.3.1.4, T1 = 500 ms)', async () => {
      bob.answerCalls('answer');
      const { exchange } = await alice.start(alice.invite('sip:bob@primary.example'));
      const ok = await exchange.final();
      const oks = () => exchange.responses.filter((r) => r.status === 200);
      await expect.poll(oks, { timeout: 1000, interval: 50 }).toHaveLength(2);
      expect(serializeMessage(oks()[1] as SipResponse).equals(serializeMessage(ok))).toBe(true);
      await alice.send(alice.ack(exchange.request, ok));
      // Without the ACK the next copy would come 1 s after the first retransmission.
      await new Promise((r) => setTimeout(r, 1100));
      expect(oks()).toHaveLength(2);
      expect((await alice.request(alice.bye(alice.dialogOf(exchange.request, ok)))).response.status).toBe(
        200,
      );
      const bobInvite = await bob.takeRequest('INVITE');
      await bob.takeRequest('ACK', callIdOf(bobInvite));
      await bob.takeRequest('BYE', callIdOf(bobInvite));
    });

    it('bob hangs up: his BYE is answered and relayed to alice', async () => {
      const { invite, bobCall } = await establish();
      await bob.takeRequest('ACK', bobCall.dialog.callId);
      const bye = await bob.request(bob.bye(bobCall.dialog));
      expect(bye.response.status).toBe(200);
      const aliceBye = await alice.takeRequest('BYE', callIdOf(invite));
      // In alice's dialog the edge is the remote side: From = alice's To with the edge's tag.
      expect(uriOf(aliceBye.headers.get('From'))).toBe('sip:bob@primary.example');
      expect(uriOf(aliceBye.headers.get('To'))).toBe('sip:alice@primary.example');
      expect(aliceBye.uri).toBe(alice.contact);
      await expect.poll(() => primaryEdge().callCount()).toBe(0);
    });

    it('a BYE after the call ended gets 481', async () => {
      const { invite, ok, bobCall } = await establish();
      await bob.takeRequest('ACK', bobCall.dialog.callId);
      const dialog = alice.dialogOf(invite, ok);
      expect((await alice.request(alice.bye(dialog))).response.status).toBe(200);
      expect((await alice.request(alice.bye(dialog))).response.status).toBe(481);
    });

    it('a re-INVITE in the call gets 488: the relayed calls keep their media (§14.2)', async () => {
      const { invite, ok, bobCall } = await establish();
      await bob.takeRequest('ACK', bobCall.dialog.callId);
      const dialog = alice.dialogOf(invite, ok);
      dialog.cseq += 1;
      const reinvite = alice.invite(dialog.target, {
        from: dialog.local,
        to: dialog.remote,
        callId: dialog.callId,
        cseq: dialog.cseq,
      });
      expect((await alice.request(reinvite, { auth: false })).response.status).toBe(488);
      expect((await alice.request(alice.bye(dialog))).response.status).toBe(200);
    });

    it('CANCEL before the answer: 200 to the CANCEL, 487 to the INVITE, and bob gets the CANCEL', async () => {
      bob.answerCalls('ring');
      const { exchange } = await alice.start(alice.invite('sip:bob@primary.example'));
      const ringing = await exchange.waitFor(180);
      const bobInvite = await bob.takeRequest('INVITE');

      const cancel = await alice.request(alice.cancel(exchange.request), { auth: false });
      expect(cancel.response.status).toBe(200);
      const final = await exchange.final();
      expect(final.status).toBe(487);
      expect(toTag(final)).toBe(toTag(ringing));

      const bobCancel = await bob.takeRequest('CANCEL', callIdOf(bobInvite));
      expect(bobCancel.headers.get('CSeq')).toBe(`${bobInvite.headers.get('CSeq')?.split(' ')[0]} CANCEL`);
      expect(bobCancel.headers.get('Via')).toBe(bobInvite.headers.get('Via'));
      // bob answered 487 to his INVITE, which the edge ACKs (§17.1.1.3).
      await bob.takeRequest('ACK', callIdOf(bobInvite));
      await expect.poll(() => primaryEdge().callCount()).toBe(0);
    });

    it("bob's rejection (486) is relayed to alice with the edge's tag; both sides are ACKed", async () => {
      bob.answerCalls(486);
      const { exchange } = await alice.start(alice.invite('sip:bob@primary.example'));
      const final = await exchange.final();
      expect(final.status).toBe(486);
      expect(toTag(final)).toBe(toTag(exchange.responses.find((r) => r.status === 180) as SipResponse));
      const bobInvite = await bob.takeRequest('INVITE');
      await bob.takeRequest('ACK', callIdOf(bobInvite));
      await expect.poll(() => primaryEdge().callCount()).toBe(0);
    });

    it('a caller over TCP: the relayed 200 and the BYE from bob reach alice over TCP', async () => {
      const aliceTcp = await ua('alice', 'primary.example', 'tcp');
      bob.answerCalls('answer');
      const { request, response } = await aliceTcp.request(aliceTcp.invite('sip:bob@primary.example'));
      expect(response.status).toBe(200);
      expect(response.headers.get('Contact')).toMatch(/;transport=tcp>$/);
      await aliceTcp.send(aliceTcp.ack(request, response));
      const bobInvite = await bob.takeRequest('INVITE');
      const bobCall = bob.calls.get(callIdOf(bobInvite));
      if (!bobCall) throw new Error('no call at bob');
      await bob.takeRequest('ACK', bobCall.dialog.callId);
      expect((await bob.request(bob.bye(bobCall.dialog))).response.status).toBe(200);
      const bye = await aliceTcp.takeRequest('BYE', callIdOf(request));
      expect(bye.headers.get('Via')).toMatch(/^SIP\/2\.0\/TCP /);
    });

    it('relays to a callee registered over TCP', async () => {
      const dispatcher = await ua('dispatcher', 'primary.example', 'tcp');
      expect((await dispatcher.request(dispatcher.register({ expires: 120 }))).response.status).toBe(200);
      dispatcher.answerCalls('answer');
      const { response, request } = await alice.request(alice.invite('sip:dispatcher@primary.example'));
      expect(response.status).toBe(200);
      const received = await dispatcher.takeRequest('INVITE');
      expect(received.headers.get('Via')).toMatch(/^SIP\/2\.0\/TCP /);
      await alice.send(alice.ack(request, response));
      expect((await alice.request(alice.bye(alice.dialogOf(request, response)))).response.status).toBe(200);
      await dispatcher.takeRequest('BYE', callIdOf(received));
    });
  });

  describe('Scenario: a call to a group regrouped on the partner is redirected', () => {
    it('302 to the temporary group with Warning 148; after the regroup is cancelled, an ordinary group call (403 120 here: carol is not affiliated)', async () => {
      const primary = local.get('primary.example').url;
      const dispatcher = await login(primary, 'dispatcher', 'dispatcher-pass');
      const created = await call(primary, 'POST', '/regroups', {
        token: dispatcher,
        body: { constituents: ['fire-1', 'sip:ambulance-1@partner.example'], name: 'edge-incident-1' },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const tgi = 'sip:edge-incident-1@primary.example';

      const carol = await ua('carol', 'partner.example');
      const redirected = await carol.request(carol.invite('sip:ambulance-1@partner.example'));
      expect(redirected.challenge?.status).toBe(407);
      expect(redirected.response.status).toBe(302);
      expect(redirected.response.reason).toBe('Moved Temporarily');
      expect(redirected.response.headers.get('Contact')).toBe(`<${tgi}>`);
      expect(redirected.response.headers.get('Warning')).toBe(
        '399 partner.example "148 MCPTT group is regrouped"',
      );

      const cancelled = await call(primary, 'DELETE', `/regroups/${enc(tgi)}`, { token: dispatcher });
      expect(cancelled.status).toBe(200);
      // Now an ordinary group call: carol is a member of ambulance-1 but not affiliated in this test.
      const again = await carol.request(carol.invite('sip:ambulance-1@partner.example'));
      expect(again.response.status).toBe(403);
      expect(again.response.headers.get('Warning')).toMatch(/"120 /);
      expect(again.response.headers.get('Contact')).toBeUndefined();
    });
  });

  describe('Scenario: requests the edge refuses or answers itself', () => {
    it('INVITE to an unknown user: 404 (after authentication)', async () => {
      const { response, challenge } = await alice.request(alice.invite('sip:nobody@primary.example'));
      expect(challenge?.status).toBe(407);
      expect(response.status).toBe(404);
    });

    it('INVITE to a registered-nowhere user: 480', async () => {
      const { response } = await alice.request(alice.invite('sip:admin@primary.example'));
      expect(response.status).toBe(480);
    });

    it('OPTIONS: 200 with Allow, Accept, Accept-Encoding, Accept-Language (§11.2)', async () => {
      const { response, challenge } = await alice.request(alice.options());
      expect(challenge).toBeUndefined();
      expect(response.status).toBe(200);
      const allow = (response.headers.get('Allow') ?? '').split(/\s*,\s*/);
      expect(allow).toEqual(
        expect.arrayContaining(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PUBLISH']),
      );
      expect(response.headers.get('Accept')).toMatch(/application\/sdp/);
      expect(response.headers.get('Accept-Encoding')).toBe('identity');
      expect(response.headers.get('Accept-Language')).toBe('en');
    });

    it('an unknown method: 501 with Allow; SUBSCRIBE: 405 with Allow (§8.2.1)', async () => {
      const unknown = await alice.request(alice.build('FROBNICATE', 'sip:bob@primary.example'));
      expect(unknown.response.status).toBe(501);
      expect(unknown.response.headers.get('Allow')).toMatch(/INVITE/);
      const subscribe = await alice.request(
        alice.build('SUBSCRIBE', 'sip:bob@primary.example', { headers: [['Event', 'presence']] }),
      );
      expect(subscribe.response.status).toBe(405);
      expect(subscribe.response.reason).toBe('Method Not Allowed');
      expect(subscribe.response.headers.get('Allow')).toMatch(/INVITE/);
      expect(subscribe.response.headers.get('Allow')).not.toMatch(/SUBSCRIBE/);
    });

    it('a method refused with 405 is not listed in its Allow (§21.4.6): MESSAGE', async () => {
      const { response } = await alice.request(
        alice.build('MESSAGE', 'sip:bob@primary.example', { body: 'hello', contentType: 'text/plain' }),
      );
      expect(response.status).toBe(405);
      expect((response.headers.get('Allow') ?? '').split(/\s*,\s*/)).not.toContain('MESSAGE');
    });

    it('Max-Forwards 0: 483 Too Many Hops, before authentication (§16.3 step 3)', async () => {
      const options = await alice.request(alice.options('sip:bob@primary.example', { maxForwards: 0 }));
      expect(options.response.status).toBe(483);
      const invite = await alice.request(alice.invite('sip:bob@primary.example', { maxForwards: 0 }));
      expect(invite.challenge).toBeUndefined();
      expect(invite.response.status).toBe(483);
    });

    it('CANCEL of an unknown INVITE gets 481', async () => {
      const invite = alice.invite('sip:bob@primary.example');
      expect((await alice.request(alice.cancel(invite), { auth: false })).response.status).toBe(481);
    });

    it('final responses the edge builds itself carry a To tag (§8.2.6.2)', async () => {
      const missing: string[] = [];
      const check = (what: string, r: SipResponse) => {
        if (toTag(r) === undefined) missing.push(`${what} → ${r.status}`);
      };
      check('OPTIONS', (await alice.request(alice.options())).response);
      check(
        'FROBNICATE',
        (await alice.request(alice.build('FROBNICATE', 'sip:bob@primary.example'))).response,
      );
      const invite = await alice.request(alice.invite('sip:nobody@primary.example'));
      if (invite.challenge) check('INVITE (challenge)', invite.challenge);
      check('INVITE sip:nobody', invite.response);
      check('REGISTER (challenge)', (await alice.request(alice.register(), { auth: false })).response);
      expect(missing).toEqual([]);
    });
  });
});
