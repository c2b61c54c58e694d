/**
 * RFC 4475 torture tests end to end: every message of the shared corpus is sent as raw bytes over
 * UDP to a running primary edge, its top Via pointed at a test UA so the answer comes back, and
 * the answer (or its absence) is compared with what the RFC expects. A table is printed.
 *
 * Messages whose top Via says TCP keep it: the edge answers them over a TCP connection to the
 * UA's sent-by (§18.2.2), and the UA listens on TCP at the same port. bext01's TLS becomes UDP.
 *
 * Dropped without an answer: the responses of the corpus (a server never answers a response), and
 * badinv01, whose only Via is garbage (`;;,;,,`): with no parseable Via a response has no
 * destination (RFC 3261 §18.2.2), so nothing can be sent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystems } from '#local/systems.ts';
import { topVia } from '../../../sip/message/accessors.ts';
import { parseMessage } from '../../../sip/message/parser.ts';
import type { SipResponse } from '../../../sip/message/types.ts';
import { buildAckForFailure } from '../../../sip/transaction/requests.ts';
import { startDemo } from '../../support/local-systems.ts';
import { SipUa } from '../../support/sip-ua.ts';
import { corpusDir } from '../../unit/sip/message/corpus.ts';

/** What the edge must do: answer with that final status, or send nothing at all. */
type Expected = number | 'drop';

/** RFC 4475 section, expected outcome and why. */
const EXPECTED: Record<string, [section: string, expected: Expected, why: string]> = {
  // 3.1.1 valid messages: parsed and handled (never 400).
  wsinv: ['3.1.1.1', 481, 'INVITE with a To tag: no such dialog (§12.2.2)'],
  intmeth: ['3.1.1.2', 501, 'unknown method'],
  esc01: ['3.1.1.3', 407, 'INVITE needs proxy authentication'],
  escnull: ['3.1.1.4', 401, 'REGISTER needs authentication'],
  esc02: ['3.1.1.5', 501, 'RE%47IST%45R is not REGISTER'],
  lwsdisp: ['3.1.1.6', 200, 'OPTIONS'],
  longreq: ['3.1.1.7', 407, 'INVITE needs proxy authentication'],
  dblreq: ['3.1.1.8', 401, 'the REGISTER only; the INVITE after it is discarded'],
  semiuri: ['3.1.1.9', 200, 'OPTIONS'],
  transports: ['3.1.1.10', 200, 'OPTIONS'],
  mpart01: ['3.1.1.11', 405, 'MESSAGE is not served here'],
  unreason: ['3.1.1.12', 'drop', 'a response'],
  noreason: ['3.1.1.13', 'drop', 'a response'],
  // 3.1.2 invalid messages: 400 (505 for the version) when a response can be routed.
  badinv01: ['3.1.2.1', 'drop', 'no parseable Via: no destination for a 400'],
  clerr: ['3.1.2.2', 400, 'Content-Length larger than the body'],
  ncl: ['3.1.2.3', 400, 'negative Content-Length'],
  scalar02: ['3.1.2.4', 400, 'overlarge CSeq / Max-Forwards / Expires'],
  scalarlg: ['3.1.2.5', 'drop', 'a response'],
  quotbal: ['3.1.2.6', 400, 'unterminated quoted string'],
  ltgtruri: ['3.1.2.7', 400, '<> around the Request-URI'],
  lwsruri: ['3.1.2.8', 400, 'LWS in the Request-URI'],
  lwsstart: ['3.1.2.9', 400, 'extra SP in the Request-Line'],
  trws: ['3.1.2.10', 400, 'trailing SP in the Request-Line'],
  escruri: ['3.1.2.11', 400, 'headers in the Request-URI'],
  baddate: ['3.1.2.12', 400, 'Date not in GMT'],
  regbadct: ['3.1.2.13', 400, 'Contact URI with headers outside <>'],
  badaspec: ['3.1.2.14', 400, 'SP inside <> of To'],
  baddn: ['3.1.2.15', 400, 'unquoted display name with ","'],
  badvers: ['3.1.2.16', 505, 'SIP/7.0'],
  mismatch01: ['3.1.2.17', 400, 'CSeq method differs from the method'],
  mismatch02: ['3.1.2.18', 400, 'CSeq method differs from the method'],
  bigcode: ['3.1.2.19', 'drop', 'a response'],
  // 3.2 transaction layer.
  badbranch: ['3.2.1', 200, 'OPTIONS, matched RFC 2543 style'],
  // 3.3 application layer, as the RFC expects.
  insuf: ['3.3.1', 400, 'missing To, From, Call-ID'],
  unkscm: ['3.3.2', 416, 'unknown Request-URI scheme'],
  novelsc: ['3.3.3', 416, 'soap.beep Request-URI'],
  unksm2: ['3.3.4', 401, 'accepted: REGISTER needs authentication'],
  bext01: ['3.3.5', 420, 'Require with unknown options'],
  invut: ['3.3.6', 415, 'unknown Content-Type'],
  regaut01: ['3.3.7', 401, 'unknown Authorization scheme: new challenge'],
  multi01: ['3.3.8', 400, 'several Call-ID / CSeq / To / From'],
  mcl01: ['3.3.9', 400, 'two Content-Length'],
  bcast: ['3.3.10', 'drop', 'a response (broadcast Via)'],
  zeromf: ['3.3.11', 483, 'Max-Forwards 0'],
  cparam01: ['3.3.12', 401, 'REGISTER needs authentication'],
  cparam02: ['3.3.13', 401, 'REGISTER needs authentication'],
  regescrt: ['3.3.14', 401, 'REGISTER needs authentication'],
  sdp01: ['3.3.15', 406, 'Accept without application/sdp'],
  // 3.4 backward compatibility.
  inv2543: ['3.4.1', 407, 'RFC 2543 INVITE, handled: proxy authentication'],
};

const CRLF = '\r\n';

/**
 * Points the top Via of a raw message at `sentBy` (the test UA's 127.0.0.1:port) so the edge's
 * response comes back to the test (RFC 3261 §18.2.2): the sent-by host[:port] is replaced; a
 * transport the UA cannot receive on (TLS, SCTP, …) becomes UDP; rport / received / maddr of that
 * via-parm are removed (they would send the response elsewhere). Every other byte stays as it is —
 * folding, NULs, non-UTF-8, trailing data. Works on latin1 text, where one character is one byte.
 */
const pointTopViaAt = (raw: Buffer, sentBy: string): Buffer => {
  const text = raw.toString('latin1');
  const headEnd = text.indexOf(`${CRLF}${CRLF}`);
  const head = headEnd < 0 ? text : text.slice(0, headEnd + 2);
  const found = /\r\n(?:via|v)[ \t]*:/i.exec(head);
  if (!found) return raw;
  const start = found.index + 2;
  // The field runs to the first CRLF not followed by white space (§7.3.1 folding).
  let end = start;
  for (;;) {
    const nl = head.indexOf(CRLF, end);
    if (nl < 0) {
      end = head.length;
      break;
    }
    end = nl + 2;
    if (head[end] !== ' ' && head[end] !== '\t') {
      end = nl;
      break;
    }
  }
  const field = text.slice(start, end);
  const lws = '[ \\t\\r\\n]*';
  const m = new RegExp(
    `^([^:]*:${lws}SIP${lws}/${lws}[^ \\t\\r\\n/]+${lws}/${lws})([A-Za-z]+)([ \\t\\r\\n]+)` +
      '(\\[[^\\]]*\\]|[^ \\t\\r\\n;:,]+)((?:[ \\t]*:[ \\t]*[0-9]+)?)([^,]*)',
  ).exec(field);
  if (!m) return raw;
  const [all, protocol = '', transport = '', ws = '', , , params = ''] = m;
  const t = /^(?:udp|tcp)$/i.test(transport) ? transport : 'UDP';
  const kept = params.replace(/[ \t]*;[ \t]*(?:rport|received|maddr)(?:[ \t]*=[ \t]*[^;, \t\r\n]*)?/gi, '');
  const replaced = `${protocol}${t}${ws}${sentBy}${kept}${field.slice(all.length)}`;
  return Buffer.concat([raw.subarray(0, start), Buffer.from(replaced, 'latin1'), raw.subarray(end)]);
};

interface Row {
  name: string;
  section: string;
  expected: Expected;
  why: string;
  /** Every response received, in order. */
  responses: SipResponse[];
  final: SipResponse | undefined;
  /** Whether anything at all arrived. */
  anything: boolean;
  /** The final response did not parse (it echoes the invalid header fields of the request). */
  unparseable: boolean;
}

const statusText = (r: Row) =>
  r.final ? `${r.final.status} ${r.final.reason}${r.unparseable ? ' (*)' : ''}` : 'dropped';

describe('RFC 4475 torture messages sent to a running edge over UDP', () => {
  let local: LocalSystems;
  const uas: SipUa[] = [];
  const dir = corpusDir();
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.dat'))
    .sort();

  beforeAll(async () => {
    local = await startDemo();
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(uas.map((u) => u.close()));
    await local?.stop();
  });

  const newUa = async () => {
    const ua = await SipUa.start({
      user: 'torture',
      domain: 'primary.example',
      edge: local.get('primary.example').edge,
    });
    uas.push(ua);
    return ua;
  };

  it('has an expectation for every file of the corpus', () => {
    const names = files.map((f) => f.replace(/\.dat$/, ''));
    expect(names.filter((n) => !(n in EXPECTED))).toEqual([]);
    expect(Object.keys(EXPECTED).filter((n) => !names.includes(n))).toEqual([]);
  });

  it('the rewriting touches the top Via only, and does not change what parses', () => {
    const sentBy = '127.0.0.1:40000';
    for (const file of files) {
      const raw = readFileSync(join(dir, file));
      const out = pointTopViaAt(raw, sentBy);
      // The bytes that differ lie within one header field (no CRLF + non-LWS inside the change).
      let p = 0;
      while (p < raw.length && p < out.length && raw[p] === out[p]) p++;
      let q = 0;
      while (q < raw.length - p && q < out.length - p && raw[raw.length - 1 - q] === out[out.length - 1 - q])
        q++;
      const changed = raw.subarray(p, raw.length - q).toString('latin1');
      expect(/\r\n[^ \t]/.test(changed), file).toBe(false);
      const before = parseMessage(raw);
      const after = parseMessage(out);
      expect(after.ok, file).toBe(before.ok);
      if (after.ok && after.message.kind === 'request') {
        expect(topVia(after.message), file).toMatchObject({ host: '127.0.0.1', port: 40000 });
        expect(topVia(after.message)?.params.has('rport'), file).toBe(false);
      }
    }
    // wsinv folds its top Via over three lines; the folding stays.
    const wsinv = pointTopViaAt(readFileSync(join(dir, 'wsinv.dat')), sentBy).toString('latin1');
    expect(wsinv).toContain(`Via  : SIP  /   2.0\r\n /UDP\r\n    ${sentBy};branch=390skdjuw\r\n`);
  });

  it('badbranch (3.2.1): a retransmission matches the same server transaction, RFC 2543 style', async () => {
    const ua = await newUa();
    const transactions = local.get('primary.example').edge.transactions;
    const bytes = pointTopViaAt(readFileSync(join(dir, 'badbranch.dat')), `127.0.0.1:${ua.port}`);
    expect(bytes.toString('latin1')).toContain(`Via: SIP/2.0/UDP 127.0.0.1:${ua.port};branch=z9hG4bK\r\n`);
    const isResponse = (m: { message: { kind: string } }) => m.message.kind === 'response';

    const before = transactions.counts().server;
    await ua.sendRaw(bytes);
    const first = await ua.take(isResponse);
    expect((first.message as SipResponse).status).toBe(200);
    expect(transactions.counts().server).toBe(before + 1);

    // The same bytes again: absorbed by the transaction, which resends its response (§17.2.2).
    await ua.sendRaw(bytes);
    const second = await ua.take(isResponse);
    expect(second.raw.equals(first.raw)).toBe(true);
    expect(transactions.counts().server).toBe(before + 1);

    // Control: another CSeq is another request, hence another transaction.
    const other = Buffer.from(
      bytes.toString('latin1').replace('CSeq: 8 OPTIONS', 'CSeq: 9 OPTIONS'),
      'latin1',
    );
    await ua.sendRaw(other);
    const third = await ua.take(isResponse);
    expect((third.message as SipResponse).headers.get('CSeq')).toBe('9 OPTIONS');
    expect(transactions.counts().server).toBe(before + 2);
  });

  it('answers each message as RFC 4475 expects (table)', async () => {
    const rows = await Promise.all(
      files.map(async (file): Promise<Row> => {
        const name = file.replace(/\.dat$/, '');
        const [section, expected, why] = EXPECTED[name] ?? ['?', 'drop', '?'];
        const ua = await newUa();
        const bytes = pointTopViaAt(readFileSync(join(dir, file)), `127.0.0.1:${ua.port}`);
        await ua.sendRaw(bytes);
        const isResponse = (m: { message: { kind: string } }) => m.message.kind === 'response';
        const isFinal = (m: { message: { kind: string } }) =>
          m.message.kind === 'response' && (m.message as SipResponse).status >= 200;
        let final: SipResponse | undefined;
        try {
          final = (await ua.take(isFinal, expected === 'drop' ? 800 : 3000)).message as SipResponse;
        } catch {
          final = undefined;
        }
        // Give retransmissions / strays a moment, then take everything that came.
        const rest = await ua.drain(100);
        const responses = [
          ...(final ? [final] : []),
          ...rest.filter(isResponse).map((m) => m.message as SipResponse),
        ];
        // §17.1.1.3: a client ACKs a non-2xx final response to its INVITE.
        const parsed = parseMessage(bytes, { transport: 'udp' });
        if (final && final.status >= 300 && parsed.ok && parsed.message.kind === 'request') {
          if (parsed.message.method === 'INVITE') await ua.send(buildAckForFailure(parsed.message, final));
        }
        return {
          name,
          section,
          expected,
          why,
          responses,
          final,
          anything: final !== undefined || rest.length > 0,
          unparseable: ua.unparseable.some((u) => u.response === final),
        };
      }),
    );

    const widths = [11, 9, 9, 38];
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' ');
    console.log(
      [
        line(['file', 'section', 'expected', 'got', 'why']),
        line(['----', '-------', '--------', '---', '---']),
        ...rows.map((r) => line([r.name, r.section, String(r.expected), statusText(r), r.why])),
        '(*) the response echoes the invalid To/From/CSeq of the request (RFC 3261 §8.2.6.2), so a strict',
        '    parser (ours) refuses it; shown from its status line.',
      ].join('\n'),
    );

    const got = Object.fromEntries(rows.map((r) => [r.name, r.final ? r.final.status : 'drop']));
    const want = Object.fromEntries(rows.map((r) => [r.name, r.expected]));
    expect(got).toEqual(want);

    const row = (n: string): Row => rows.find((r) => r.name === n) as Row;
    // Dropped means no answer at all, not even a 100.
    for (const r of rows.filter((x) => x.expected === 'drop')) expect(r.anything, r.name).toBe(false);
    // dblreq: one answer, to the REGISTER (CSeq 8 REGISTER); the INVITE after it was discarded.
    expect(row('dblreq').responses.map((r) => r.headers.get('CSeq'))).toEqual(['8 REGISTER']);
    // bext01: 420 lists the unsupported option tags of Require (§8.2.2.3).
    const unsupported = row('bext01').final?.headers.get('Unsupported') ?? '';
    expect(unsupported.split(/\s*,\s*/).sort()).toEqual(['nothingSupportsThis', 'nothingSupportsThisEither']);
    // invut: 415 says what is accepted (§21.4.13); it includes application/sdp.
    expect(row('invut').final?.headers.get('Accept')).toMatch(/application\/sdp/);
    // Challenges carry digest challenges.
    for (const n of ['escnull', 'unksm2', 'regaut01', 'cparam01', 'cparam02', 'regescrt'])
      expect(row(n).final?.headers.get('WWW-Authenticate'), n).toMatch(/^Digest /);
    for (const n of ['esc01', 'longreq', 'inv2543'])
      expect(row(n).final?.headers.get('Proxy-Authenticate'), n).toMatch(/^Digest /);
    // 405 and 501 carry Allow (§21.4.6).
    for (const n of ['intmeth', 'esc02', 'mpart01'])
      expect(row(n).final?.headers.get('Allow'), n).toMatch(/INVITE/);
    // Answers to invalid messages say why (Warning).
    expect(row('clerr').final?.headers.get('Warning')).toMatch(/Content-Length/);
  });
});
