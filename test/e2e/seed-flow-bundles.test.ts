/**
 * The seed flow on what is deployed: `cdk synth` bundles the functions (esbuild, ESM, minified, the
 * stack's banner), and the two local systems run those bundles — each function of each system in a
 * worker thread with the environment the stack gives it (local/bundles.ts) — instead of the source
 * modules. Members register and affiliate, the dispatcher regroups fire-1 and ambulance-1, alice calls
 * the TGI, both systems' members are invited, alice gets 200 with the call setup result per system.
 * The handlers are shown to come from the synthesized assets, and the bundles' EMF metric lines
 * (Powertools, lib/metric-names.ts) to carry the call.
 *
 * Synthesizes into a temporary directory (about 20 s). MCPTT_TEST_BUNDLES=<cdk.out dir> reuses a
 * synthesized directory instead (it must be fresh: synthesized from the sources under test).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCallSetupResultXml } from '#core/call-setup-result.ts';
import { REGROUP_NOTIFICATION_TYPE } from '#core/regroup-notification.ts';
import type { FunctionOutput } from '#local/bundles.ts';
import { type LocalSystems, startLocalSystems } from '#local/systems.ts';
import type { FunctionName } from '../../lib/routes.ts';
import { parseMultipart } from '../../sip/message/multipart.ts';
import type { SipResponse } from '../../sip/message/types.ts';
import { demoConfig } from '../support/local-systems.ts';
import { regroupSeed, SeedUas } from '../support/seed-scenario.ts';
import type { SipUa } from '../support/sip-ua.ts';

const run = promisify(execFile);

/** `cdk synth` of the repository's app into `out` (offline; the bundles of both demo systems). */
const synthesize = async (out: string): Promise<void> => {
  await run('npx', ['--no-install', 'cdk', 'synth', '--quiet', '--no-notices', '-o', out], {
    cwd: resolve('.'),
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
    timeout: 170_000,
    maxBuffer: 64 * 1024 * 1024,
  });
};

type Emf = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string }[] } };

describe('Feature: the seed flow on the deployed bundles', () => {
  let bundlesDir: string;
  let tmp: string | undefined;
  let local: LocalSystems;
  const output: FunctionOutput[] = [];
  const uas = new SeedUas(() => local);
  let alice: SipUa;
  let dispatcher: SipUa;
  let carol: SipUa;
  let dave: SipUa;

  /** The EMF lines the bundles of `system` printed. */
  const emf = (system: string): Emf[] =>
    output
      .filter((o) => o.system === system && o.stream === 'stdout' && o.line.startsWith('{"_aws"'))
      .map((o) => JSON.parse(o.line) as Emf);

  beforeAll(async () => {
    const given = process.env.MCPTT_TEST_BUNDLES;
    if (given) bundlesDir = resolve(given);
    else {
      tmp = mkdtempSync(join(tmpdir(), 'mcptt-cdk-out-'));
      bundlesDir = tmp;
      await synthesize(tmp);
    }
    // Free ports (the edge control APIs' too: demoConfig); a port taken between its choice and its
    // use (parallel test files) gets new ports.
    for (let attempt = 1; ; attempt++) {
      const config = await demoConfig();
      try {
        local = await startLocalSystems(config, {
          bundles: bundlesDir,
          metrics: true,
          onFunctionOutput: (o) => output.push(o),
        });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 3) throw e;
      }
    }
    ({ alice, dispatcher, carol, dave } = await uas.online('alice', 'dispatcher', 'carol', 'dave'));
    await regroupSeed(local);
    // The primary's regroup notice comes from the regroups bundle: in AWS it would invoke the message
    // relay (MESSAGE_RELAY_FUNCTION); locally it is given the edge instead and calls it directly.
    const notice = await dispatcher.takeRequest('MESSAGE', undefined, 5_000);
    expect(notice.headers.get('Content-Type')).toBe(REGROUP_NOTIFICATION_TYPE);
    expect(notice.body.toString('utf8')).toContain('action="regrouped"');
    await dispatcher.drain(100);
    await carol.drain(100);
  }, 200_000);

  afterAll(async () => {
    await uas.close();
    await local?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('alice calls the TGI: 200 after both systems’ members answered, handled by the synthesized bundles', async () => {
    dispatcher.answerCalls('answer', 30);
    carol.answerCalls('answer', 50);
    dave.answerCalls('answer');
    const { exchange } = await alice.start(alice.invite('sip:seed@primary.example'));
    const final: SipResponse = await exchange.final(15_000);
    expect(final.status, final.reason).toBe(200);
    await alice.send(alice.ack(exchange.request, final));
    expect((await dispatcher.takeRequest('INVITE')).headers.get('To')).toContain(
      'sip:dispatcher@primary.example',
    );
    expect((await carol.takeRequest('INVITE')).headers.get('To')).toContain('sip:carol@partner.example');

    const parts = parseMultipart(final.body, final.headers.get('Content-Type') ?? '');
    const resultPart = parts.find((p) =>
      p.headers.some(([n, v]) => n.toLowerCase() === 'content-type' && v.includes('call-setup-result')),
    );
    const result = parseCallSetupResultXml(resultPart?.body.toString() ?? '');
    expect(result.outcome).toBe('success');
    expect(result.systems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ system: 'primary.example', invited: 1, accepted: 1 }),
        expect.objectContaining({ system: 'partner.example', invited: 1, accepted: 1 }),
      ]),
    );

    // Every function that served the flow is a synthesized asset running in a worker thread.
    const primary = local.get('primary.example');
    const partner = local.get('partner.example');
    const loaded = (s: typeof primary) => new Map(s.bundles?.loaded().map((l) => [l.fn, l] as const));
    const primaryLoaded = loaded(primary);
    const partnerLoaded = loaded(partner);
    const primaryFns: FunctionName[] = [
      'auth',
      'regroups',
      'registration',
      'affiliation',
      'call-routing',
      'call-setup-tasks',
      'partner-interrogator',
      'member-response',
    ];
    for (const fn of primaryFns) expect(primaryLoaded.has(fn), fn).toBe(true);
    for (const fn of ['partner-api', 'registration', 'affiliation'] as const) {
      expect(partnerLoaded.has(fn), fn).toBe(true);
    }
    for (const l of [...primaryLoaded.values(), ...partnerLoaded.values()]) {
      expect(l.entry.startsWith(`${bundlesDir}${sep}asset.`), l.entry).toBe(true);
      expect(l.entry.endsWith(`${sep}index.mjs`)).toBe(true);
    }
    const threads = [...primaryLoaded.values(), ...partnerLoaded.values()].map((l) => l.threadId);
    expect(new Set(threads).size).toBe(threads.length);

    // The bundles emitted the call's metrics (EMF lines of Powertools, namespace MCPTT, dimension System).
    await expect
      .poll(() => emf('primary.example').filter((l) => 'CallsSucceeded' in l).length, { timeout: 3_000 })
      .toBe(1);
    const lines = emf('primary.example');
    const has = (name: string) => lines.filter((l) => name in l);
    expect(has('CallsStarted')).toHaveLength(1);
    expect(has('CallsStarted')[0]).toMatchObject({
      System: 'primary.example',
      _aws: { CloudWatchMetrics: [{ Namespace: 'MCPTT', Dimensions: [['System']] }] },
    });
    expect(has('CallSetupLatency')[0]?.CallSetupLatency).toEqual(expect.any(Number));
    expect(has('PartnerInterrogationLatency')).toHaveLength(1);
    expect(has('PartnerInterrogationFailures')).toHaveLength(0);
    expect(has('MemberResponses').reduce((n, l) => n + Number(l.MemberResponses), 0)).toBe(2);
    expect(has('MemberResponses').every((l) => l.Class === '2xx')).toBe(true);
    expect(has('CallsFailed')).toHaveLength(0);
  }, 30_000);
});
