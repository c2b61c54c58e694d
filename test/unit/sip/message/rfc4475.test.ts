/**
 * Runs every RFC 4475 torture-test message of the shared corpus through parseMessage (as UDP) and
 * prints a table of file, RFC section, expected and actual outcome.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMessage, validateRequestHeaders } from '../../../../sip/message/parser.ts';
import { corpusDir } from './corpus.ts';

type Expect = 'parse' | 'reject';

/** RFC 4475 section of each message and what the parser must do with it. */
const EXPECTED: Record<string, [section: string, expect: Expect, note?: string]> = {
  wsinv: ['3.1.1.1', 'parse'],
  intmeth: ['3.1.1.2', 'parse'],
  esc01: ['3.1.1.3', 'parse'],
  escnull: ['3.1.1.4', 'parse'],
  esc02: ['3.1.1.5', 'parse'],
  lwsdisp: ['3.1.1.6', 'parse'],
  longreq: ['3.1.1.7', 'parse'],
  dblreq: ['3.1.1.8', 'parse'],
  semiuri: ['3.1.1.9', 'parse'],
  transports: ['3.1.1.10', 'parse'],
  mpart01: ['3.1.1.11', 'parse'],
  unreason: ['3.1.1.12', 'parse'],
  noreason: ['3.1.1.13', 'parse'],
  badinv01: ['3.1.2.1', 'reject'],
  clerr: ['3.1.2.2', 'reject'],
  ncl: ['3.1.2.3', 'reject'],
  scalar02: ['3.1.2.4', 'reject'],
  scalarlg: ['3.1.2.5', 'reject'],
  quotbal: ['3.1.2.6', 'reject'],
  ltgtruri: ['3.1.2.7', 'reject'],
  lwsruri: ['3.1.2.8', 'reject'],
  lwsstart: ['3.1.2.9', 'reject'],
  trws: ['3.1.2.10', 'reject'],
  escruri: ['3.1.2.11', 'reject'],
  baddate: ['3.1.2.12', 'reject'],
  regbadct: ['3.1.2.13', 'reject'],
  badaspec: ['3.1.2.14', 'reject'],
  baddn: ['3.1.2.15', 'reject'],
  badvers: ['3.1.2.16', 'reject'],
  mismatch01: ['3.1.2.17', 'reject'],
  mismatch02: ['3.1.2.18', 'reject'],
  bigcode: ['3.1.2.19', 'reject'],
  badbranch: ['3.2.1', 'parse', 'transaction layer: RFC 2543-style matching'],
  insuf: ['3.3.1', 'parse', 'app: 400 (missing fields)'],
  unkscm: ['3.3.2', 'parse', 'app: 416'],
  novelsc: ['3.3.3', 'parse', 'app: 416'],
  unksm2: ['3.3.4', 'parse', 'app: 416 or accept'],
  bext01: ['3.3.5', 'parse', 'app: 420 + Unsupported'],
  invut: ['3.3.6', 'parse', 'app: 415'],
  regaut01: ['3.3.7', 'parse', 'app: 401/403'],
  multi01: ['3.3.8', 'parse', 'app: 400 (repeated fields)'],
  mcl01: ['3.3.9', 'parse', 'app: 400 (two Content-Length)'],
  bcast: ['3.3.10', 'parse', 'response; no broadcast reply'],
  zeromf: ['3.3.11', 'parse', 'app: 483 at a proxy'],
  cparam01: ['3.3.12', 'parse', 'app: register'],
  cparam02: ['3.3.13', 'parse', 'app: register'],
  regescrt: ['3.3.14', 'parse', 'app: register, ignore headers'],
  sdp01: ['3.3.15', 'parse', 'app: 406'],
  inv2543: ['3.4.1', 'parse', 'RFC 2543 backward compatibility'],
};

describe('RFC 4475 torture tests (UDP)', () => {
  const dir = corpusDir();
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.dat'))
    .sort();

  it('has every message of the RFC, and nothing unknown', () => {
    const names = files.map((f) => f.replace(/\.dat$/, ''));
    expect(names.filter((n) => !(n in EXPECTED))).toEqual([]);
    expect(Object.keys(EXPECTED).filter((n) => !names.includes(n))).toEqual([]);
    expect(files).toHaveLength(49);
  });

  it('parses the valid ones (3.1.1, 3.2, 3.3, 3.4) and rejects the invalid ones (3.1.2)', () => {
    const rows: string[][] = [];
    const wrong: string[] = [];
    for (const f of files) {
      const name = f.replace(/\.dat$/, '');
      const [section, expected, note = ''] = EXPECTED[name] ?? ['?', 'parse'];
      const r = parseMessage(readFileSync(`${dir}/${f}`), { transport: 'udp' });
      const got: Expect = r.ok ? 'parse' : 'reject';
      let detail: string;
      if (r.ok) {
        const m = r.message;
        const app = m.kind === 'request' ? validateRequestHeaders(m) : undefined;
        detail = `${m.kind === 'request' ? m.method : `${m.status}`}${app ? ` → 400 "${app}"` : ''}${note ? ` (${note})` : ''}`;
      } else detail = `${r.status ?? 400}: ${r.error}`;
      rows.push([name, section, expected, got, detail]);
      if (got !== expected) wrong.push(name);
    }
    const widths = [12, 9, 8, 8];
    const line = (cells: string[]) =>
      cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i] ?? 0) : c)).join(' ');
    console.log(
      [
        line(['file', 'section', 'expected', 'got', 'detail']),
        line(['----', '-------', '--------', '---', '------']),
        ...rows.map(line),
      ].join('\n'),
    );
    expect(wrong).toEqual([]);
  });

  it('dblreq: UDP discards the octets after Content-Length (the second request)', () => {
    const r = parseMessage(readFileSync(`${dir}/dblreq.dat`), { transport: 'udp' });
    expect(r.ok).toBe(true);
    if (!r.ok || r.message.kind !== 'request') return;
    expect(r.message.method).toBe('REGISTER');
    expect(r.message.body.length).toBe(0);
  });

  it('the application-level checks flag insuf, multi01 and mcl01 for a 400', () => {
    for (const [name, reason] of [
      ['insuf', 'Missing To header field'],
      ['multi01', 'Multiple Call-ID header fields'],
      ['mcl01', 'Multiple Content-Length header fields'],
    ] as const) {
      const r = parseMessage(readFileSync(`${dir}/${name}.dat`), { transport: 'udp' });
      expect(r.ok && r.message.kind === 'request' && validateRequestHeaders(r.message)).toBe(reason);
    }
  });

  it('rejected requests still expose the readable header fields for a 400', () => {
    for (const name of ['badinv01', 'quotbal', 'mismatch01', 'escruri']) {
      const r = parseMessage(readFileSync(`${dir}/${name}.dat`), { transport: 'udp' });
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.kind).toBe('request');
      expect(r.partial?.headers.has('Call-ID')).toBe(true);
      expect(r.partial?.headers.has('CSeq')).toBe(true);
    }
  });
});
