/**
 * SIPp interop suite (Debian `sip-tester`): starts the local systems, then drives the primary's SIP
 * edge with SIPp scenarios from test/sipp/ and prints one line per scenario:
 *   REGISTER with digest (right and wrong password); INVITE/200/ACK/BYE through the edge, which is
 *   UAS towards the caller and UAC towards the callee (a second SIPp); CANCEL before the answer; a
 *   lost 200 (the caller does not ACK the first 200; the edge must retransmit it); the call over TCP;
 *   the edge as UAC through its control API; an invitation from the primary's edge through the partner's
 *   edge; last, the seed flow with SIPp as caller and as members on both systems (seedFlow below).
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

const sipp = (
  args: string[],
  timeoutS = 25,
  started?: (p: ChildProcess) => void,
): Promise<{ code: number; out: string }> =>
  new Promise((res) => {
    const p = spawn('sipp', [...args, '-nostdin', '-timeout', `${timeoutS - 5}s`, '-timeout_error'], {
      cwd: SIPP_DIR,
    });
    started?.(p);
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

interface DemoSystem {
  domain: string;
  edgeToken: string;
  http: { port: number };
  sip: { port: number };
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

const readText = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

/** The first few events of a SIPp error file (-trace_err), for a FAIL line. */
const sippErrors = (path: string): string =>
  readText(path)
    // Events are not separated by newlines: each starts with a date, a time and a timestamp.
    .split(/\d{4}-\d\d-\d\d\t[\d:.]+\t\d+\.\d+: /)
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .filter((l) => l && !l.startsWith('The following events') && !l.includes('using the out-of-call'))
    .slice(0, 3)
    .map((l) => l.slice(0, 160))
    .join(' | ');

interface SeedMember {
  user: string;
  password: string;
  system: DemoSystem;
  group: string;
  port: number;
  log: string;
  errors: string;
  process?: ChildProcess;
  exit?: number;
  /** Stopped by the runner (the flow failed before the member's call could end). */
  killed?: boolean;
  run?: Promise<{ code: number; out: string }>;
}

/**
 * The seed flow with SIPp as caller and as members (TS 23.379, group call on a temporary group formed
 * by group regroup, multiple MCPTT systems), as test/e2e/seed-flow.test.ts runs it with our own UAs:
 * 1. Two SIPp members, each its own process and port (test/sipp/seed-member.xml with the out-of-call
 *    scenario seed-member-calls.xml): dispatcher on the primary (fire-1) and carol on the partner
 *    (ambulance-1) REGISTER and PUBLISH their affiliation; the runner waits until each system's
 *    functions hold the member's binding (at the member's port) and affiliation.
 * 2. The dispatcher regroups fire-1 and ambulance-1 as `seed` (HTTP API); the members answer the
 *    regroup notice (SIP MESSAGE).
 * 3. The SIPp caller (seed-caller.xml) as alice REGISTERs, affiliates to fire-1 and calls the TGI:
 *    200 with the call setup complete result, ACK, BYE.
 * 4. Each member must have had exactly one INVITE, answered 180/200, got the ACK and a BYE.
 * 5. The regroup is cancelled.
 * Runs last: alice, dispatcher and carol stay registered and affiliated.
 */
const seedFlow = async (
  nextPort: () => number,
  record: (name: string, ok: boolean, detail: string) => void,
): Promise<void> => {
  const name = 'seed flow: SIPp caller, SIPp members on 2 systems';
  const config = JSON.parse(readFileSync('config/demo.json', 'utf8')) as { systems: DemoSystem[] };
  const [primary, partner] = config.systems;
  if (!primary || !partner) throw new Error('config/demo.json: two systems expected');
  const api = (s: DemoSystem) => `http://127.0.0.1:${s.http.port}`;
  const edgeGet = async <T>(s: DemoSystem, path: string): Promise<T> =>
    (await (
      await fetch(`${api(s)}${path}`, { headers: { authorization: `Bearer ${s.edgeToken}` } })
    ).json()) as T;
  const tgi = `sip:seed@${primary.domain}`;

  // 1. The members, in the background.
  const members: SeedMember[] = [
    {
      user: 'dispatcher',
      password: 'dispatcher-pass',
      system: primary,
      group: `sip:fire-1@${primary.domain}`,
    },
    { user: 'carol', password: 'carol-pass', system: partner, group: `sip:ambulance-1@${partner.domain}` },
  ].map((m) => ({
    ...m,
    port: nextPort(),
    log: join(work, `seed-${m.user}.log`),
    errors: join(work, `seed-${m.user}.errors`),
  }));
  for (const m of members) {
    const fields = csv(`seed-${m.user}.csv`, [m.system.domain, m.group]);
    m.run = sipp(
      [
        `127.0.0.1:${m.system.sip.port}`,
        '-sf',
        'seed-member.xml',
        '-oocsf',
        'seed-member-calls.xml',
        '-inf',
        fields,
        '-s',
        m.user,
        '-au',
        m.user,
        '-ap',
        m.password,
        '-m',
        '1',
        '-i',
        '127.0.0.1',
        '-p',
        String(m.port),
        '-trace_logs',
        '-log_file',
        m.log,
        '-trace_err',
        '-error_file',
        m.errors,
      ],
      45,
      (p) => {
        m.process = p;
      },
    ).then((r) => {
      m.exit = r.code;
      return r;
    });
  }
  const stopMembers = async () => {
    for (const m of members) {
      if (m.exit !== undefined) continue;
      m.killed = true;
      m.process?.kill('SIGKILL');
    }
    await Promise.all(members.map((m) => m.run));
  };
  const fail = async (detail: string) => {
    await stopMembers();
    record(name, false, detail);
  };

  // Registered (a binding at the member's port) and affiliated, as the system's functions see it.
  const online = async (m: SeedMember): Promise<boolean> => {
    const id = encodeURIComponent(`sip:${m.user}@${m.system.domain}`);
    for (let i = 0; i < 100 && m.exit === undefined; i++) {
      const [reg, aff] = await Promise.all([
        edgeGet<{ bindings?: { contact: string }[] }>(m.system, `/edge/registrations/${id}`),
        edgeGet<{ affiliations?: { groupId: string }[] }>(m.system, `/edge/affiliations/${id}`),
      ]);
      if (
        reg.bindings?.some((b) => b.contact.includes(`@127.0.0.1:${m.port};`)) &&
        aff.affiliations?.some((a) => a.groupId === m.group)
      )
        return true;
      await sleep(100);
    }
    return false;
  };
  const ready = await Promise.all(members.map(online));
  const notReady = members.filter((_m, i) => !ready[i]);
  if (notReady.length > 0) {
    await fail(
      notReady
        .map((m) => `${m.user} not registered and affiliated (sipp exit ${m.exit}: ${sippErrors(m.errors)})`)
        .join('; '),
    );
    return;
  }

  // 2. The regroup, by the dispatcher over the primary's HTTP API.
  const login = (await (
    await fetch(`${api(primary)}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'dispatcher', password: 'dispatcher-pass' }),
    })
  ).json()) as { token: string };
  const dispatcher = { authorization: `Bearer ${login.token}`, 'content-type': 'application/json' };
  const created = await fetch(`${api(primary)}/regroups`, {
    method: 'POST',
    headers: dispatcher,
    body: JSON.stringify({ constituents: ['fire-1', `ambulance-1@${partner.domain}`], name: 'seed' }),
  });
  const regroup = (await created.json()) as { tgi?: string; message?: string };
  if (created.status !== 201 || regroup.tgi !== tgi) {
    await fail(`regroup ${created.status} ${regroup.message ?? regroup.tgi}`);
    return;
  }

  // 3. The caller.
  const callerLog = join(work, 'seed-alice.log');
  const callerErrors = join(work, 'seed-alice.errors');
  const caller = await sipp([
    `127.0.0.1:${primary.sip.port}`,
    '-sf',
    'seed-caller.xml',
    '-inf',
    csv('seed-alice.csv', [primary.domain, `sip:fire-1@${primary.domain}`, tgi]),
    '-s',
    'alice',
    '-au',
    'alice',
    '-ap',
    'alice-pass',
    '-m',
    '1',
    '-i',
    '127.0.0.1',
    '-p',
    String(nextPort()),
    '-trace_logs',
    '-log_file',
    callerLog,
    '-trace_err',
    '-error_file',
    callerErrors,
  ]);
  const said = readText(callerLog);
  const callId = /call-id (\S+) tgi/.exec(said)?.[1];
  const inviteTo200 = /INVITE to 200: ([\d.]+) ms/.exec(said)?.[1];
  const systems = [...said.matchAll(/<system domain="([^"]+)" invited="(\d+)" accepted="(\d+)"/g)].map(
    (m) => ({ domain: m[1] ?? '', invited: Number(m[2]), accepted: Number(m[3]) }),
  );

  // 4. The members' BYE. The system does not (yet) release a group call when its initiator hangs up
  // (no hang timer either): if the members are still in the call shortly after the caller's BYE, the
  // runner releases their legs through the primary's edge control API, as the functions do when they
  // tear a call down (POST /v1/legs/{legId}/bye; legId = the member's URI without "sip:",
  // functions/workflow/invite-members.ts). carol's BYE goes through the partner's edge.
  for (let i = 0; i < 20 && members.some((m) => m.exit === undefined); i++) await sleep(100);
  const stillInCall = members.filter((m) => m.exit === undefined);
  if (stillInCall.length > 0 && callId) {
    const control = `http://127.0.0.1:${primary.http.port + 1}`;
    await Promise.all(
      stillInCall.map((m) =>
        fetch(
          `${control}/v1/legs/${encodeURIComponent(`${m.user}@${m.system.domain}`)}/bye?callId=${encodeURIComponent(callId)}`,
          { method: 'POST', headers: { authorization: `Bearer ${primary.edgeToken}` } },
        ),
      ),
    );
  } else if (stillInCall.length > 0) {
    await stopMembers();
  }
  await Promise.all(members.map((m) => m.run));
  const calls = members.map((m) => {
    const done = /group call done: invites ([\d.]+), regroup notices ([\d.]+), byes ([\d.]+)/.exec(
      readText(m.log),
    );
    return { invites: Number(done?.[1] ?? 0), notices: Number(done?.[2] ?? 0), byes: Number(done?.[3] ?? 0) };
  });

  // 5. The regroup is cancelled.
  const deleted = await fetch(`${api(primary)}/regroups/seed`, { method: 'DELETE', headers: dispatcher });

  const perSystem = [primary, partner].map((s) => systems.find((x) => x.domain === s.domain));
  const problems = [
    ...(caller.code !== 0 ? [`caller exit ${caller.code}: ${sippErrors(callerErrors)}`] : []),
    ...[primary, partner].flatMap((s, i) => {
      const r = perSystem[i];
      return r?.invited === 1 && r.accepted === 1
        ? []
        : [`${s.domain} invited ${r?.invited ?? '?'} accepted ${r?.accepted ?? '?'} (1 and 1 expected)`];
    }),
    ...members.flatMap((m) =>
      m.exit === 0
        ? []
        : [
            `${m.user} exit ${m.exit}${m.killed ? ' (stopped by the runner)' : ''}: ${sippErrors(m.errors) || 'no SIPp error logged: timed out waiting for the call to end'}`,
          ],
    ),
    ...(deleted.status !== 200 ? [`regroup delete ${deleted.status}`] : []),
  ];
  const ms = inviteTo200 !== undefined ? `${Math.round(Number(inviteTo200))} ms` : '?';
  record(
    name,
    problems.length === 0,
    problems.length > 0
      ? problems.join('; ')
      : `INVITE→200 ${ms}; invited/accepted ${perSystem.map((r) => `${r?.domain} ${r?.invited}/${r?.accepted}`).join(', ')}; ` +
          members
            .map(
              (m, i) =>
                `${m.user} ${calls[i]?.invites} INVITE+ACK, ${calls[i]?.byes} BYE, ${calls[i]?.notices} notice`,
            )
            .join('; ') +
          `; regroup deleted ${deleted.status}`,
  );
  if (stillInCall.length > 0 && callId) {
    console.log(
      `      (${stillInCall.map((m) => m.user).join(' and ')} released by this runner through the edge control API: no release on the caller's BYE yet)`,
    );
  }
};

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
    // A group is in one temporary group at a time: free fire-1 and ambulance-1 for the seed flow below.
    await fetch(`${api}/regroups/interop-tg`, { method: 'DELETE', headers: dispatcher });
  }

  await seedFlow(() => port++, record);

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
