#!/usr/bin/env node
/**
 * The CDK app: one {@link McpttSystemStack} per MCPTT system.
 *
 * Context:
 * - `config` — JSON file listing the systems (`{ "systems": [ { "domain": "primary.example" } ] }`),
 *   relative to the working directory; default `config/demo.json` (set in cdk.json).
 * - `systems` — comma-separated domains; replaces the config file's list (which then need not exist).
 * - `deletionProtection` — `false` to create the tables without DynamoDB deletion protection (demos).
 * - `sipIngressCidr` — who may send SIP to the edges' load balancers (default 0.0.0.0/0).
 * - `sipTlsCertificateArn` — ACM certificate of a TLS listener on 5061 (every system; none by default).
 * - `alarmEmails` — comma-separated addresses subscribed to each system's alarm topic.
 * - `nag` — `false` to synthesize without the cdk-nag AwsSolutions checks (on by default: any finding
 *   not acknowledged in lib/nag-suppressions.ts fails the synthesis).
 *
 * Account and region come from CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION when set (environment-agnostic
 * stacks otherwise).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { McpttSystemStack } from '../lib/mcptt-system-stack.ts';
import { stackIdFor, systemsFromConfig } from '../lib/systems-from-config.ts';

const app = new App();

const configPath = String(app.node.tryGetContext('config') ?? 'config/demo.json');
const override = app.node.tryGetContext('systems') as string | string[] | undefined;

let config: unknown;
if (override === undefined) {
  const file = resolve(configPath);
  if (!existsSync(file)) {
    throw new Error(`config file ${file} not found (set -c config=<file> or -c systems=<domain,...>)`);
  }
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`config file ${file}: ${(error as Error).message}`);
  }
}

const deletionProtection = String(app.node.tryGetContext('deletionProtection') ?? 'true') !== 'false';
const env =
  process.env.CDK_DEFAULT_ACCOUNT || process.env.CDK_DEFAULT_REGION
    ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }
    : undefined;

const context = (key: string): string | undefined => {
  const v = app.node.tryGetContext(key) as unknown;
  return v === undefined || v === null || String(v).trim() === '' ? undefined : String(v).trim();
};
const sipIngressCidr = context('sipIngressCidr');
const tlsCertificateArn = context('sipTlsCertificateArn');
const alarmEmails = context('alarmEmails')
  ?.split(',')
  .map((e) => e.trim())
  .filter((e) => e !== '');

for (const system of systemsFromConfig(config, override)) {
  new McpttSystemStack(app, stackIdFor(system), {
    system,
    deletionProtection,
    env,
    description: `MCPTT system ${system} (mcptt-regroup)`,
    edge: {
      ...(sipIngressCidr ? { sipIngressCidr } : {}),
      ...(tlsCertificateArn ? { tlsCertificateArn } : {}),
    },
    ...(alarmEmails && alarmEmails.length > 0 ? { alarms: { emails: alarmEmails } } : {}),
  });
}

if (context('nag') !== 'false') Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

app.synth();
