/**
 * Members whose affiliated group is regrouped (or un-regrouped) are told with a SIP MESSAGE from
 * their own system's edge (TS 22.280 R-6.6.2.2-002).
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeAffiliationPidf } from '#core/affiliation-pidf.ts';
import { REGROUP_NOTIFICATION_TYPE } from '#core/regroup-notification.ts';
import type { LocalSystems } from '#local/systems.ts';
import { createResponse } from '../../sip/message/accessors.ts';
import { parseMessage } from '../../sip/message/parser.ts';
import { serializeMessage } from '../../sip/message/serializer.ts';
import type { SipRequest } from '../../sip/message/types.ts';
import { call, demoConfig, login, startDemo } from '../support/local-systems.ts';

/** A member's phone: a UDP socket that answers every MESSAGE 200 and keeps them. */
const phone = async () => {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const messages: SipRequest[] = [];
  socket.on('message', (buf, rinfo) => {
    const parsed = parseMessage(buf, { transport: 'udp' });
    if (!parsed.ok || parsed.message.kind !== 'request' || parsed.message.method !== 'MESSAGE') return;
    if (!messages.some((m) => m.headers.get('Call-ID') === parsed.message.headers.get('Call-ID')))
      messages.push(parsed.message);
    socket.send(
      serializeMessage(createResponse(parsed.message, 200, 'OK', { toTag: 'phone' })),
      rinfo.port,
      rinfo.address,
    );
  });
  return { socket, messages, port: socket.address().port };
};

const until = async (check: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
};

describe('Feature: regroup notification to affiliated members', () => {
  let local: LocalSystems;
  let alice: Awaited<ReturnType<typeof phone>>;
  let carol: Awaited<ReturnType<typeof phone>>;
  let bob: Awaited<ReturnType<typeof phone>>;

  beforeAll(async () => {
    const config = await demoConfig();
    local = await startDemo({ config });
    [alice, carol, bob] = await Promise.all([phone(), phone(), phone()]);
    const setUp = async (system: 0 | 1, user: string, group: string, port: number) => {
      const s = config.systems[system];
      const base = local.get(s?.domain ?? '').url;
      const edge = { authorization: `Bearer ${s?.edgeToken}` };
      const id = `sip:${user}@${s?.domain}`;
      await call(base, 'POST', '/edge/registrations', {
        headers: edge,
        body: { mcpttId: id, contact: `sip:${user}@127.0.0.1:${port}`, expires: 600 },
      });
      const pidf = serializeAffiliationPidf({
        entity: id,
        clientId: `${user}-phone`,
        affiliations: [{ groupId: group, expiresAt: Date.now() + 600_000 }],
      });
      const res = await call(base, 'POST', '/edge/affiliations', {
        raw: pidf,
        headers: { ...edge, 'content-type': 'application/pidf+xml', 'x-mcptt-asserted-identity': id },
      });
      expect(res.status).toBe(200);
    };
    await setUp(0, 'alice', 'sip:fire-1@primary.example', alice.port);
    await setUp(0, 'bob', 'sip:police-1@primary.example', bob.port);
    await setUp(1, 'carol', 'sip:ambulance-1@partner.example', carol.port);
  }, 60_000);
  afterAll(async () => {
    for (const p of [alice, carol, bob]) p?.socket.close();
    await local?.stop();
  });

  it('sends MESSAGE to affiliated members of every constituent group, on both systems, and again on cancel', async () => {
    const primary = local.get('primary.example').url;
    const dispatcher = await login(primary, 'dispatcher', 'dispatcher-pass');
    const created = await call(primary, 'POST', '/regroups', {
      token: dispatcher,
      body: { constituents: ['fire-1', 'ambulance-1@partner.example'], name: 'notify-test' },
    });
    expect(created.status).toBe(201);
    await until(() => alice.messages.length >= 1 && carol.messages.length >= 1);
    for (const [p, group] of [
      [alice, 'sip:fire-1@primary.example'],
      [carol, 'sip:ambulance-1@partner.example'],
    ] as const) {
      expect(p.messages).toHaveLength(1);
      const m = p.messages[0] as SipRequest;
      expect(m.headers.get('Content-Type')).toBe(REGROUP_NOTIFICATION_TYPE);
      expect(m.headers.get('From')).toMatch(/^<sip:notify-test@primary.example>;tag=/);
      const body = m.body.toString();
      expect(body).toContain('action="regrouped"');
      expect(body).toContain(`group="${group}"`);
      expect(body).toContain('tgi="sip:notify-test@primary.example"');
    }
    // bob's group was not regrouped: nothing for him.
    expect(bob.messages).toHaveLength(0);

    expect((await call(primary, 'DELETE', '/regroups/notify-test', { token: dispatcher })).status).toBe(200);
    await until(() => alice.messages.length >= 2 && carol.messages.length >= 2);
    expect(alice.messages[1]?.body.toString()).toContain('action="regroup-cancelled"');
    expect(carol.messages[1]?.body.toString()).toContain('action="regroup-cancelled"');
    expect(bob.messages).toHaveLength(0);
  });
});
