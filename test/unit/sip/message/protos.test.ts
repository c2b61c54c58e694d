/**
 * Robustness: every PROTOS c07-sip test case (4,527 malformed INVITEs) through parseMessage. The
 * parser must never throw, must stay fast, and must accept the valid reference case.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../../sip/message/parser.ts';
import { corporaDir } from './corpus.ts';

/** Minimal ustar reader: regular files of the archive as name → content. */
const untar = (tar: Buffer): Map<string, Buffer> => {
  const files = new Map<string, Buffer>();
  let off = 0;
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a: number, b: number) => header.toString('latin1', a, b).replace(/\0.*$/s, '');
    const name = str(345, 500) ? `${str(345, 500)}/${str(0, 100)}` : str(0, 100);
    const size = Number.parseInt(str(124, 136).trim() || '0', 8);
    const type = str(156, 157);
    if (type === '0' || type === '') files.set(name, tar.subarray(off + 512, off + 512 + size));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
};

const SUBST: [string, string][] = [
  ['<To>', 'user@127.0.0.1'],
  ['<From>', 'protos@127.0.0.1'],
  ['<From-Address>', '127.0.0.1'],
  ['<Local-Port>', '5061'],
  ['<Branch-ID>', 'abc123'],
  ['<Call-ID>', 'protos-call-1'],
  ['<CSeq>', '1'],
  ['<From-IP>', '127.0.0.1'],
  ['<Teardown-Method>', 'CANCEL'],
];

/** Each case file is `<length> <message><length> <teardown>`; fills the placeholders of the first message. */
const firstMessage = (raw: Buffer): Buffer => {
  const sp = raw.indexOf(0x20);
  const len = Number(raw.subarray(0, sp).toString('latin1'));
  let s = raw.subarray(sp + 1, sp + 1 + len).toString('latin1');
  for (const [k, v] of SUBST) s = s.split(k).join(v);
  const sep = s.indexOf('\r\n\r\n');
  const bodyLen = sep < 0 ? 0 : s.length - sep - 4;
  return Buffer.from(s.split('<Content-Length>').join(String(bodyLen)), 'latin1');
};

describe('PROTOS c07-sip robustness', () => {
  it('parses all 4,527 cases without throwing, quickly, and accepts the valid case', () => {
    const tarball = resolve(corporaDir(), 'protos-c07-sip.tar.gz');
    const files = untar(gunzipSync(readFileSync(tarball)));
    const cases = [...files].filter(([n]) => /\/cases\/\d+$/.test(n)).sort(([a], [b]) => a.localeCompare(b));
    expect(cases).toHaveLength(4527);
    let accepted = 0;
    let rejected = 0;
    let slowest = 0;
    const t0 = performance.now();
    for (const [name, raw] of cases) {
      const data = firstMessage(raw);
      const t = performance.now();
      let r: ReturnType<typeof parseMessage>;
      try {
        r = parseMessage(data, { transport: 'udp' });
      } catch (e) {
        throw new Error(`parseMessage threw on ${name}: ${(e as Error).message}`);
      }
      slowest = Math.max(slowest, performance.now() - t);
      if (r.ok) accepted++;
      else rejected++;
      if (name.endsWith('/0000000')) expect(r.ok).toBe(true);
    }
    const total = performance.now() - t0;
    console.log(
      `PROTOS c07-sip: ${cases.length} cases, ${rejected} rejected, ${accepted} accepted (syntactically valid), ` +
        `${total.toFixed(0)} ms total, slowest ${slowest.toFixed(2)} ms`,
    );
    expect(accepted + rejected).toBe(4527);
    expect(total).toBeLessThan(10_000);
  });
});
