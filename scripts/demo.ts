/**
 * `npm run demo`: plays the seed scenario on two local MCPTT systems (started in this process, in
 * memory, on free loopback ports) and prints the SIP ladder diagram of the call and the call setup
 * complete result. Exits 0 when the caller got 200 OK with a successful result.
 *
 * alice (primary) and the dispatcher (primary, fire-1), carol (partner, ambulance-1) register with digest
 * and affiliate with PUBLISH; the dispatcher regroups fire-1 and ambulance-1; alice calls the TGI.
 */
import { parseCallSetupResultXml } from '../core/call-setup-result.ts';
import { parseMultipart } from '../sip/message/multipart.ts';
import type { SipMessage } from '../sip/message/types.ts';
import type { Endpoint, SipTransportLayer } from '../sip/transport/types.ts';
import { call, login, startDemo } from '../test/support/local-systems.ts';
import { SipUa } from '../test/support/sip-ua.ts';

process.env.LOG_LEVEL ??= 'error';

interface Line {
  at: number;
  from: string;
  to: string;
  label: string;
}

const main = async () => {
  const local = await startDemo();
  const names = new Map<number, string>();
  const ladder: Line[] = [];
  let recording = false;
  let t0 = 0;
  const tap = (name: string, layer: SipTransportLayer, port: number) => {
    names.set(port, name);
    const send = layer.send.bind(layer);
    layer.send = (m: SipMessage, to: Endpoint) => {
      if (recording && !(m.kind === 'request' && m.method === 'MESSAGE')) {
        const label = m.kind === 'request' ? `${m.method} ${m.uri}` : `${m.status} ${m.reason}`;
        ladder.push({ at: performance.now() - t0, from: name, to: String(to.port), label });
      }
      return send(m, to);
    };
  };
  const primary = local.get('primary.example');
  const partner = local.get('partner.example');
  tap('primary edge', primary.edge.transport, primary.edge.udp.port);
  tap('partner edge', partner.edge.transport, partner.edge.udp.port);
  const ua = async (user: string, domain: string) => {
    const u = await SipUa.start({ user, password: `${user}-pass`, domain, edge: local.get(domain).edge });
    tap(user, u.layer, u.port);
    return u;
  };
  const alice = await ua('alice', 'primary.example');
  const dispatcher = await ua('dispatcher', 'primary.example');
  const carol = await ua('carol', 'partner.example');
  let ok = false;
  try {
    for (const [u, group] of [
      [alice, 'sip:fire-1@primary.example'],
      [dispatcher, 'sip:fire-1@primary.example'],
      [carol, 'sip:ambulance-1@partner.example'],
    ] as const) {
      await u.request(u.register({ expires: 600 }));
      await u.request(u.publish({ groups: [group] }));
    }
    const token = await login(primary.url, 'dispatcher', 'dispatcher-pass');
    const regroup = await call(primary.url, 'POST', '/regroups', {
      token,
      body: { constituents: ['fire-1', 'ambulance-1@partner.example'], name: 'major-incident' },
    });
    console.log(`regroup: HTTP ${regroup.status}, TGI ${String(regroup.body.tgi)}`);
    await dispatcher.drain(200);
    await carol.drain(50);
    dispatcher.answerCalls('answer');
    carol.answerCalls('answer');

    recording = true;
    t0 = performance.now();
    const { exchange } = await alice.start(alice.invite('sip:major-incident@primary.example'));
    const final = await exchange.final(15_000);
    const setupMs = performance.now() - t0;
    await alice.send(alice.ack(exchange.request, final));
    await new Promise((r) => setTimeout(r, 300));
    recording = false;

    const lanes = ['alice', 'primary edge', 'partner edge', 'dispatcher', 'carol'];
    const width = 16;
    console.log(`\n${'ms'.padStart(8)}  ${lanes.map((l) => l.padEnd(width)).join('')}`);
    for (const l of ladder) {
      const from = lanes.indexOf(l.from);
      const to = lanes.indexOf(names.get(Number(l.to)) ?? '');
      if (from < 0 || to < 0) continue;
      const [a, b] = from < to ? [from, to] : [to, from];
      const cells = lanes.map((_, i) => (i === a || i === b ? '|' : ' ').padEnd(width));
      const arrowLen = (b - a) * width - 1;
      const text = ` ${l.label.slice(0, arrowLen - 4)} `;
      const body = text.padEnd(arrowLen - 1, '-');
      const arrow = from < to ? `${body}>` : `<${body}`;
      const line = `${cells.slice(0, a).join('')}|${arrow}${cells.slice(b).join('')}`;
      console.log(`${l.at.toFixed(1).padStart(8)}  ${line}`);
    }
    const parts = parseMultipart(final.body, final.headers.get('Content-Type') ?? '');
    const resultPart = parts.find((p) => p.headers.some(([, v]) => v.includes('call-setup-result')));
    const result = resultPart ? parseCallSetupResultXml(resultPart.body.toString()) : undefined;
    console.log(`\nINVITE → ${final.status} ${final.reason} in ${setupMs.toFixed(1)} ms`);
    if (result) {
      console.log(`call setup complete: ${result.outcome} (call ${result.callId})`);
      for (const s of result.systems) {
        console.log(
          `  ${s.system.padEnd(18)} invited ${s.invited}, accepted ${s.accepted}, declined ${s.declined}, failed ${s.failed}${s.unavailable ? `, unavailable: ${s.unavailable.reason}` : ''}`,
        );
      }
    }
    ok = final.status === 200 && result?.outcome === 'success';
  } finally {
    await Promise.allSettled([alice.close(), dispatcher.close(), carol.close()]);
    await local.stop();
  }
  console.log(ok ? 'demo: PASS' : 'demo: FAIL');
  process.exit(ok ? 0 : 1);
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
