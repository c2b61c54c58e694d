/**
 * cdk-nag (AwsSolutions pack, cdk-nag 3 as a CDK validation plugin) over both system stacks of a
 * two-system app: no finding may be left unacknowledged, errors and warnings alike; every
 * acknowledgement (lib/nag-suppressions.ts) carries a specific written reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpttSystemStack } from '../../lib/mcptt-system-stack.ts';
import { ACKNOWLEDGEMENTS } from '../../lib/nag-suppressions.ts';
import { createEntryRoot, type EntryRoot, testApp } from './fixture.ts';

interface Violation {
  ruleName: string;
  severity: string;
  violatingConstructs: { constructPath: string }[];
}

/** Synthesizes `app` with the AwsSolutions pack; the violations it reports (none: `[]`). */
const nag = (app: App): Violation[] => {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let thrown: unknown;
  try {
    app.synth();
  } catch (e) {
    thrown = e;
  }
  const report = join(app.outdir, 'validation-report.json');
  if (!existsSync(report)) {
    if (thrown) throw thrown;
    return [];
  }
  const parsed = JSON.parse(readFileSync(report, 'utf8')) as {
    pluginReports: { violations: Violation[] }[];
  };
  const violations = parsed.pluginReports.flatMap((p) => p.violations);
  if (thrown && violations.length === 0) throw thrown;
  return violations;
};

/** One line per violating construct, for a readable failure. */
const lines = (violations: Violation[]) =>
  violations.flatMap((v) =>
    v.violatingConstructs.map((c) => `${v.severity} ${v.ruleName} ${c.constructPath}`),
  );

describe('cdk-nag AwsSolutions', () => {
  let root: EntryRoot;
  beforeAll(() => {
    root = createEntryRoot();
  });
  afterAll(() => root?.dispose());

  it('finds nothing unacknowledged in a two-system app (defaults)', () => {
    const app = testApp(root, false);
    const stacks = ['primary.example', 'partner.example'].map(
      (system) =>
        new McpttSystemStack(app, `Mcptt-${system.replace('.', '-')}`, { system, entryRoot: root.dir }),
    );
    expect(lines(nag(app))).toEqual([]);
    for (const s of stacks) expect(ACKNOWLEDGEMENTS.get(s)?.length).toBeGreaterThan(40);
  }, 120_000);

  it('finds nothing unacknowledged with TLS, a narrowed SIP range and alarm e-mails', () => {
    const app = testApp(root, false);
    const stack = new McpttSystemStack(app, 'Mcptt-primary-example', {
      system: 'primary.example',
      entryRoot: root.dir,
      edge: {
        tlsCertificateArn:
          'arn:aws:acm:eu-west-1:123456789012:certificate/0b1e6b6e-1111-2222-3333-444455556666',
        sipIngressCidr: '198.51.100.0/24',
        maxTasks: 4,
      },
      alarms: { emails: ['noc@example.org'] },
    });
    expect(lines(nag(app))).toEqual([]);
    // A narrowed SIP range needs no EC23 acknowledgement, so none is made.
    expect(ACKNOWLEDGEMENTS.get(stack)?.some((a) => a.id === 'AwsSolutions-EC23')).toBe(false);
  }, 120_000);

  it('does report what is not acknowledged (the harness is live)', () => {
    const app = testApp(root, false);
    const stack = new McpttSystemStack(app, 'Mcptt-primary-example', {
      system: 'primary.example',
      entryRoot: root.dir,
    });
    new Queue(stack, 'Unencrypted');
    const found = lines(nag(app));
    expect(found.some((l) => l.includes('AwsSolutions-SQS') && l.includes('/Unencrypted/'))).toBe(true);
  }, 120_000);

  it('every acknowledgement has a specific reason of its own', () => {
    const app = testApp(root, false);
    const stack = new McpttSystemStack(app, 'Mcptt-primary-example', {
      system: 'primary.example',
      entryRoot: root.dir,
    });
    const acks = ACKNOWLEDGEMENTS.get(stack) ?? [];
    expect(acks.length).toBeGreaterThan(40);
    for (const a of acks) {
      expect(a.id).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(a.reason.length, `${a.id} on ${a.path}`).toBeGreaterThan(80);
      // Acknowledged on the construct that has the finding, never on the whole stack.
      expect(a.path).not.toBe(stack.node.path);
    }
    // The distinct reasons, one per kind of finding.
    const reasons = new Set(acks.map((a) => a.reason));
    expect(reasons.size).toBeGreaterThanOrEqual(12);
  });
});
