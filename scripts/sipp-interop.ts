/**
 * SIPp interop suite (Debian `sip-tester`): starts the local systems, then drives the primary's SIP
 * edge with SIPp scenarios from test/sipp/ and prints one line per scenario:
 *   REGISTER with digest (right and wrong password); INVITE/200/ACK/BYE through the edge, which is
 *   UAS towards the caller and UAC towards the callee (a second SIPp); CANCEL before the answer; a
 *   lost 200 (the caller does not ACK the first 200; the edge must retransmit it); the call over TCP.
 *
 * SIPp 3.6 answers only MD5 digest challenges (and uses the first challenge it sees), so this run
 * configures the edges to offer MD5 first; SHA-256 is covered by the project's own tests.
 *
 *   npm run interop
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { legSignatureParts, TGI_HEADER } from '../core/partner-leg.ts';
import { signRequest } from '../core/request-signing.ts';

const SIPP_DIR = resolve('test/sipp');
const EDGE = '127.0.0.1:5060';
const work = mkdtempSync(join(tmpdir(), 'sipp-interop-'));

const sipp = (args: string[], timeoutS = 25): Promise<{ code: number; out: string }> =>
  new Promise((res) => {
    const p = spawn('sipp', [...args, '-nostdin', '-timeout', `${timeoutS - 5}s`, '-timeout_error'], {
      cwd: SIPP_DIR,
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const killer = setTimeout(() => p.kill('SIGKILL'), timeoutS * 1000);
    p.on('exit', (code) => {
      clearTimeout(killer);
      res({ code: code ?? 1, out });
    });
  });

const csv = (name: string, fields: string[]): string => {
  const path = join(work, name);
  writeFileSync(path, `SEQUENTIAL\n${fields.join(';')};\n`);
  return path;
};

const startSystems = (): Promise<ChildProcess> => {
  const config = JSON.parse(readFileSync('config/demo.json', 'utf8')) as {
    systems: { sip: { digestAlgorithms?: string[] } }[];
  };
  for (const s of config.systems) s.sip.digestAlgorithms = ['MD5', 'SHA-256'];
  const file = join(work, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'local/start.ts', '--memory', '--quiet', '--config', file],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'error', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    },
  );
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('local systems not ready within 60 s')), 60_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        res(child);
      }
    });
    child.once('exit', (code) => rej(new Error(`local systems exited (${code})`)));
  });
};

interface Outcome {
  name: string;
  ok: boolean;
  detail: string;
}

const main = async () => {
  const systems = await startSystems();
  const outcomes: Outcome[] = [];
  const domain = csv('domain.csv', ['primary.example']);
  const caller = csv('caller.csv', ['primary.example', 'alice']);
  let port = 16000;
  const local = () => ['-i', '127.0.0.1', '-p', String(port++)];

  const record = (name: string, ok: boolean, detail: string) => {
    outcomes.push({ name, ok, detail });
    console.log(`${ok ? 'PASS' : 'FAIL'}  ${name.padEnd(52)} ${detail}`);
  };

  // 1. REGISTER with digest.
  let r = await sipp([
    EDGE,
    '-sf',
    'register-digest.xml',
    '-inf',
    domain,
    '-s',
    'alice',
    '-au',
    'alice',
    '-ap',
    'alice-pass',
    '-m',
    '1',
    ...local(),
  ]);
  record('REGISTER, digest, right password → 401, 200', r.code === 0, `sipp exit ${r.code}`);
  r = await sipp([
    EDGE,
    '-sf',
    'register-wrong-password.xml',
    '-inf',
    domain,
    '-s',
    'alice',
    '-au',
    'alice',
    '-ap',
    'wrong-pass',
    '-m',
    '1',
    ...local(),
  ]);
  record('REGISTER, digest, wrong password → 401, 401', r.code === 0, `sipp exit ${r.code}`);

  /** A call from alice (SIPp caller) to bob (SIPp callee registered at calleePort). */
  const call = async (
    name: string,
    uacScenario: string,
    uasScenario: string,
    transport: 'u1' | 't1',
    check?: (screen: string) => string | undefined,
  ) => {
    const calleePort = port++;
    const t = ['-t', transport];
    const uas = sipp(['-sf', uasScenario, ...t, '-i', '127.0.0.1', '-p', String(calleePort), '-m', '1']);
    await new Promise((res) => setTimeout(res, 300));
    const contact = csv(`contact-${calleePort}.csv`, ['primary.example', `127.0.0.1:${calleePort}`]);
    const reg = await sipp([
      EDGE,
      ...t,
      '-sf',
      'register-contact.xml',
      '-inf',
      contact,
      '-s',
      'bob',
      '-au',
      'bob',
      '-ap',
      'bob-pass',
      '-m',
      '1',
      ...local(),
    ]);
    const screen = join(work, `${name.replace(/\W+/g, '-')}.screen`);
    const uac = await sipp([
      EDGE,
      ...t,
      '-sf',
      uacScenario,
      '-inf',
      caller,
      '-s',
      'bob',
      '-au',
      'alice',
      '-ap',
      'alice-pass',
      '-m',
      '1',
      ...local(),
      '-trace_screen',
      '-screen_file',
      screen,
    ]);
    const callee = await uas;
    let problem =
      reg.code !== 0
        ? `callee REGISTER exit ${reg.code}`
        : uac.code !== 0
          ? `caller exit ${uac.code}`
          : callee.code !== 0
            ? `callee exit ${callee.code}`
            : undefined;
    let extra = '';
    if (!problem && check) {
      let text = '';
      try {
        text = readFileSync(screen, 'utf8');
      } catch {
        text = '';
      }
      const verdict = check(text);
      if (verdict?.startsWith('!')) problem = verdict.slice(1);
      else extra = verdict ? `, ${verdict}` : '';
    }
    record(name, !problem, problem ?? `caller and callee exit 0${extra}`);
  };

  await call('INVITE/200/ACK/BYE, edge as UAS and UAC (UDP)', 'uac-invite.xml', 'uas-answer.xml', 'u1');
  await call(
    'CANCEL before answer → 487, CANCEL to callee',
    'uac-cancel.xml',
    'uas-ring-no-answer.xml',
    'u1',
  );
  await call(
    'first 200 lost → edge retransmits it',
    'uac-invite-lost-200.xml',
    'uas-answer.xml',
    'u1',
    (screen) => {
      // The row of the first 200: "200 <----------  E-RTD1 1  2  0  0" = received 1, retransmissions 2.
      const row = screen.split('\n').find((l) => /^\s*200 <-+\s+E-RTD1/.test(l));
      const nums =
        row
          ?.replace(/.*E-RTD1/, '')
          .trim()
          .split(/\s+/)
          .map(Number) ?? [];
      const retrans = nums[1] ?? 0;
      return retrans >= 1
        ? `${retrans} retransmissions of the 200 received`
        : '!no retransmission of the 200 seen';
    },
  );
  await call('INVITE/200/ACK/BYE over TCP', 'uac-invite.xml', 'uas-answer.xml', 't1');

  // Edge as UAC through the edge control API: originate a leg to a SIPp callee, then BYE it.
  {
    const config = JSON.parse(readFileSync('config/demo.json', 'utf8')) as {
      systems: { edgeToken: string; http: { port: number } }[];
    };
    const primary = config.systems[0];
    const control = `http://127.0.0.1:${(primary?.http.port ?? 8060) + 1}`;
    const auth = { authorization: `Bearer ${primary?.edgeToken}`, 'content-type': 'application/json' };
    const calleePort = port++;
    const uas = sipp(['-sf', 'uas-answer.xml', '-i', '127.0.0.1', '-p', String(calleePort), '-m', '1']);
    await new Promise((res) => setTimeout(res, 300));
    const sdp =
      'v=0\r\no=edge 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';
    const started = await fetch(`${control}/v1/legs`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        callId: 'interop-1',
        from: 'sip:dispatcher@primary.example',
        sdp,
        legs: [
          { legId: 'bob', target: 'sip:bob@primary.example', contact: `sip:bob@127.0.0.1:${calleePort}` },
        ],
      }),
    });
    let state = 'pending';
    for (let i = 0; i < 50 && state === 'pending'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      const leg = (await (
        await fetch(`${control}/v1/legs/bob?callId=interop-1`, { headers: auth })
      ).json()) as { state: string };
      state = leg.state;
    }
    const bye = (await (
      await fetch(`${control}/v1/legs/bob/bye?callId=interop-1`, { method: 'POST', headers: auth })
    ).json()) as { bye: boolean };
    const callee = await uas;
    const ok = started.status === 202 && state === 'answered' && bye.bye && callee.code === 0;
    record(
      'edge as UAC (control API): INVITE/200/ACK, BYE/200',
      ok,
      `originate ${started.status}, leg ${state}, BYE sent ${bye.bye}, callee exit ${callee.code}`,
    );
  }

  // Between systems: the primary's edge invites a partner member through the partner's edge, which
  // authorizes the signed leg with its own functions (member of a group regrouped into the TGI) and
  // relays it to the member.
  {
    const config = JSON.parse(readFileSync('config/demo.json', 'utf8')) as {
      systems: {
        edgeToken: string;
        http: { port: number };
        sip: { port: number };
        agreements: { keyId: string; key: string }[];
      }[];
    };
    const [primary, partner] = config.systems;
    const api = `http://127.0.0.1:${primary?.http.port ?? 8060}`;
    const control = `http://127.0.0.1:${(primary?.http.port ?? 8060) + 1}`;
    const edgeAuth = { authorization: `Bearer ${primary?.edgeToken}`, 'content-type': 'application/json' };
    const login = (await (
      await fetch(`${api}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'dispatcher', password: 'dispatcher-pass' }),
      })
    ).json()) as { token: string };
    const dispatcher = { authorization: `Bearer ${login.token}`, 'content-type': 'application/json' };
    const regroup = await fetch(`${api}/regroups`, {
      method: 'POST',
      headers: dispatcher,
      body: JSON.stringify({ constituents: ['fire-1', 'ambulance-1@partner.example'], name: 'interop-tg' }),
    });
    const calleePort = port++;
    const uas = sipp(['-sf', 'uas-answer.xml', '-i', '127.0.0.1', '-p', String(calleePort), '-m', '1']);
    await new Promise((res) => setTimeout(res, 300));
    const partnerEdge = `127.0.0.1:${partner?.sip.port ?? 5070}`;
    const contact = csv('carol.csv', ['partner.example', `127.0.0.1:${calleePort}`]);
    const reg = await sipp([
      partnerEdge,
      '-sf',
      'register-contact.xml',
      '-inf',
      contact,
      '-s',
      'carol',
      '-au',
      'carol',
      '-ap',
      'carol-pass',
      '-m',
      '1',
      ...local(),
    ]);
    const agreement = primary?.agreements[0];
    const tgi = 'sip:interop-tg@primary.example';
    const member = 'sip:carol@partner.example';
    const signed = (key: string) => ({
      ...Object.fromEntries(
        Object.entries(
          signRequest({
            ...legSignatureParts({ member, tgi }),
            sender: 'primary.example',
            target: 'partner.example',
            keyId: agreement?.keyId ?? '',
            key,
            now: Date.now(),
          }),
        ).map(([k, v]) => [
          k
            .replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase())
            .replace(/^X-Mcptt/, 'X-MCPTT'),
          v,
        ]),
      ),
      [TGI_HEADER]: tgi,
    });
    const originate = async (callId: string, key: string) => {
      await fetch(`${control}/v1/legs`, {
        method: 'POST',
        headers: edgeAuth,
        body: JSON.stringify({
          callId,
          from: tgi,
          sdp: 'v=0\r\no=edge 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n',
          headers: Object.entries(signed(key)),
          legs: [{ legId: 'carol', target: member, nextHop: `sip:${partnerEdge}` }],
        }),
      });
      let leg = { state: 'pending', outcome: { status: 0 } };
      for (let i = 0; i < 50 && leg.state === 'pending'; i++) {
        await new Promise((res) => setTimeout(res, 100));
        leg = (await (
          await fetch(`${control}/v1/legs/carol?callId=${callId}`, { headers: edgeAuth })
        ).json()) as typeof leg;
      }
      return leg;
    };
    const forged = await originate('interop-forged', 'F'.repeat(43));
    const leg = await originate('interop-partner', agreement?.key ?? '');
    const bye = (await (
      await fetch(`${control}/v1/legs/carol/bye?callId=interop-partner`, {
        method: 'POST',
        headers: edgeAuth,
      })
    ).json()) as { bye: boolean };
    const callee = await uas;
    const ok =
      regroup.status === 201 &&
      reg.code === 0 &&
      forged.outcome.status === 403 &&
      leg.state === 'answered' &&
      bye.bye &&
      callee.code === 0;
    record(
      'between systems: primary edge → partner edge → member',
      ok,
      `regroup ${regroup.status}, forged leg ${forged.outcome.status}, signed leg ${leg.state} ${leg.outcome.status}, BYE ${bye.bye}, member exit ${callee.code}`,
    );
  }

  systems.kill('SIGINT');
  rmSync(work, { recursive: true, force: true });
  const failed = outcomes.filter((o) => !o.ok).length;
  console.log(`${outcomes.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
