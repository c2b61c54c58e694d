/**
 * PROTOS c07-sip robustness run (University of Oulu; ../shared/corpora/protos-c07-sip.tar.gz):
 * starts the local systems (`npm start -- --memory --quiet`) as a child process, sends every one of the
 * 4,527 malformed INVITE cases (and its teardown) to the primary's SIP edge over UDP, then checks
 * that the edge still answers a valid REGISTER (401 challenge) and OPTIONS (200) and that the
 * process never exited. Prints the count of answers per response class.
 *
 *   npm run protos [-- --cases N] [--concurrency 16] [--tarball PATH]
 */
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    cases: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    tarball: { type: 'string', default: resolve('..', 'shared', 'corpora', 'protos-c07-sip.tar.gz') },
    port: { type: 'string', default: '5060' },
    'wait-ms': { type: 'string', default: '150' },
  },
});

const HOST = '127.0.0.1';
const EDGE_PORT = Number(args.port);
const WAIT_MS = Number(args['wait-ms']);

/** A case file is records of `<decimal length> <bytes>`: the test message, then its teardown. */
export const readRecords = (data: Buffer): Buffer[] => {
  const out: Buffer[] = [];
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const len = Number(data.subarray(i, space).toString('latin1'));
    if (!Number.isInteger(len) || len < 0) break;
    out.push(data.subarray(space + 1, space + 1 + len));
    i = space + 1 + len;
  }
  return out;
};

const fill = (template: Buffer, n: number, localPort: number): Buffer => {
  const values: Record<string, string> = {
    '<To>': `protos@${HOST}:${EDGE_PORT}`,
    '<From>': `tester@${HOST}`,
    '<From-Address>': HOST,
    '<From-IP>': HOST,
    '<Local-Port>': String(localPort),
    '<Branch-ID>': `.${n}`,
    '<Call-ID>': `protos-${n}`,
    '<CSeq>': String(n + 1),
    '<Teardown-Method>': 'CANCEL',
  };
  let text = template.toString('latin1');
  for (const [k, v] of Object.entries(values)) text = text.split(k).join(v);
  // Content-Length is the length of what follows the blank line, as the original tool computes it.
  const sep = text.indexOf('\r\n\r\n');
  const bodyLength = sep >= 0 ? Buffer.byteLength(text.slice(sep + 4), 'latin1') : 0;
  text = text.split('<Content-Length>').join(String(bodyLength));
  return Buffer.from(text, 'latin1');
};

const statusOf = (msg: Buffer): number | undefined => {
  const m = /^SIP\/2\.0 (\d{3}) /.exec(msg.subarray(0, 32).toString('latin1'));
  return m ? Number(m[1]) : undefined;
};

const waitForReady = (child: ReturnType<typeof spawn>): Promise<void> =>
  new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('local systems not ready within 60 s')), 60_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        res();
      }
    });
    child.once('exit', (code) => rej(new Error(`local systems exited early (${code})`)));
  });

const main = async () => {
  const work = mkdtempSync(join(tmpdir(), 'protos-'));
  execFileSync('tar', ['-xzf', args.tarball, '-C', work]);
  const dir = join(work, 'protos-c07-sip', 'cases');
  let files = readdirSync(dir).sort();
  if (args.cases) files = files.slice(0, Number(args.cases));

  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts', '--memory', '--quiet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'error', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  await waitForReady(child);

  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, HOST, r));
  const localPort = socket.address().port;
  const classes = new Map<string, number>();
  const codes = new Map<number, number>();
  const answeredCases = new Set<number>();
  socket.on('message', (msg) => {
    const status = statusOf(msg);
    const key = status ? `${Math.floor(status / 100)}xx` : 'not a response';
    classes.set(key, (classes.get(key) ?? 0) + 1);
    if (status) codes.set(status, (codes.get(status) ?? 0) + 1);
    const id = /Call-ID:\s*protos-(\d+)@/i.exec(msg.toString('latin1'));
    if (id?.[1]) answeredCases.add(Number(id[1]));
  });
  const send = (buf: Buffer) => new Promise<void>((r) => socket.send(buf, EDGE_PORT, HOST, () => r()));

  const started = Date.now();
  const concurrency = Number(args.concurrency);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const file = files[i] as string;
      const n = Number(file);
      const [test, teardown] = readRecords(readFileSync(join(dir, file)));
      if (test) await send(fill(test, n, localPort));
      await new Promise((r) => setTimeout(r, WAIT_MS));
      if (teardown) await send(fill(teardown, n, localPort));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await new Promise((r) => setTimeout(r, 1000));
  const seconds = (Date.now() - started) / 1000;

  // Afterwards: the edge must still answer valid traffic.
  const probe = async (method: 'REGISTER' | 'OPTIONS'): Promise<number | undefined> => {
    const callId = `probe-${method}-${Date.now()}`;
    const text = [
      `${method} sip:primary.example SIP/2.0`,
      `Via: SIP/2.0/UDP ${HOST}:${localPort};branch=z9hG4bK-probe-${method}-${Date.now()};rport`,
      'Max-Forwards: 70',
      `From: <sip:alice@primary.example>;tag=probe`,
      `To: <sip:alice@primary.example>`,
      `Call-ID: ${callId}`,
      `CSeq: 1 ${method}`,
      `Contact: <sip:alice@${HOST}:${localPort}>`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    return new Promise((res) => {
      const timer = setTimeout(() => res(undefined), 3000);
      const onMsg = (msg: Buffer) => {
        const s = statusOf(msg);
        if (msg.toString('latin1').includes(callId) && s && s >= 200) {
          clearTimeout(timer);
          socket.off('message', onMsg);
          res(s);
        }
      };
      socket.on('message', onMsg);
      void send(Buffer.from(text));
    });
  };
  const register = await probe('REGISTER');
  const options = await probe('OPTIONS');
  socket.close();
  const alive = exited === undefined;
  child.kill('SIGINT');
  rmSync(work, { recursive: true, force: true });

  console.log(
    `PROTOS c07-sip: ${files.length} cases sent over UDP to ${HOST}:${EDGE_PORT} in ${seconds.toFixed(1)} s`,
  );
  console.log('answers per response class:');
  for (const [k, v] of [...classes.entries()].sort()) console.log(`  ${k.padEnd(15)} ${v}`);
  console.log(
    `  by status: ${[...codes.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([c, n]) => `${c}×${n}`)
      .join(', ')}`,
  );
  console.log(
    `  cases answered at least once: ${answeredCases.size}; cases dropped silently: ${files.length - answeredCases.size}`,
  );
  console.log(
    `afterwards: REGISTER → ${register ?? 'no answer'}, OPTIONS → ${options ?? 'no answer'}; edge process ${alive ? 'alive' : `exited (${exited})`}`,
  );
  const ok = alive && register === 401 && options === 200;
  if (!ok && stderr.length) console.log(`edge stderr:\n${stderr.join('').slice(-4000)}`);
  console.log(ok ? 'PROTOS: PASS' : 'PROTOS: FAIL');
  process.exit(ok ? 0 : 1);
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
