/**
 * local/bundles.ts on a small fake cdk.out: which bundle serves which function, the environment each
 * gets, and the worker threads running them (one per function and system, started on first use).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BundleFunction,
  type BundleRuntime,
  bundleEnv,
  type FunctionOutput,
  readBundles,
  startBundleRuntime,
} from '#local/bundles.ts';
import { createLambdaContext } from '#local/lambda-context.ts';
import { FUNCTIONS } from '../../../lib/routes.ts';

const pascal = (name: string) =>
  name
    .split('-')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');

/** A bundle that answers with what it sees, fails on request, and logs a line. */
const ECHO_BUNDLE = `
import { threadId } from 'node:worker_threads';
let invocations = 0;
export const handler = async (event, context) => {
  invocations++;
  if (event && event.fail) {
    const e = new Error('asked to fail');
    e.name = event.fail;
    throw e;
  }
  console.log(JSON.stringify({ message: 'invoked', system: process.env.SYSTEM_DOMAIN }));
  return {
    system: process.env.SYSTEM_DOMAIN,
    table: process.env.TABLE_NAME,
    secret: process.env.TOKEN_SECRET,
    secretArn: process.env.TOKEN_SECRET_ARN ?? null,
    nodeOptions: process.env.NODE_OPTIONS ?? null,
    endpoint: process.env.DYNAMODB_ENDPOINT,
    logLevel: process.env.LOG_LEVEL ?? null,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    contextName: context.functionName,
    remaining: context.getRemainingTimeInMillis(),
    threadId,
    invocations,
    event,
  };
};
`;

const lambda = (stack: string, name: string, env: Record<string, unknown>) => ({
  Type: 'AWS::Lambda::Function',
  Metadata: {
    'aws:cdk:path': `${stack}/${pascal(name)}Function/Resource`,
    'aws:asset:path': `asset.${name}`,
    'aws:asset:property': 'Code',
  },
  Properties: { Handler: 'index.handler', Environment: { Variables: env } },
});

const ENV_OF_STACK = {
  TABLE_NAME: { Ref: 'TableCD117FA1' },
  SYSTEM_DOMAIN: 'primary.example',
  PARTNER_TIMEOUT_MS: '3000',
  NODE_OPTIONS: '--enable-source-maps',
  TOKEN_SECRET_ARN: { Ref: 'TokenSigningKey' },
};

describe('Local runtime: the deployed bundles', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcptt-bundles-'));
    for (const f of FUNCTIONS) {
      mkdirSync(join(dir, `asset.${f.name}`));
      writeFileSync(join(dir, `asset.${f.name}`, 'index.mjs'), ECHO_BUNDLE);
    }
    const stack = 'Mcptt-primary-example';
    const resources: Record<string, unknown> = {
      TableCD117FA1: { Type: 'AWS::DynamoDB::GlobalTable' },
    };
    for (const f of FUNCTIONS)
      resources[`${pascal(f.name)}FunctionAB12CD34`] = lambda(stack, f.name, ENV_OF_STACK);
    writeFileSync(join(dir, `${stack}.template.json`), JSON.stringify({ Resources: resources }));
    // A stack whose assets were not bundled (cdk synth of another stack only) is skipped.
    const unbundled: Record<string, unknown> = {};
    for (const f of FUNCTIONS) {
      unbundled[`${pascal(f.name)}FunctionAB12CD34`] = {
        ...lambda('Mcptt-partner-example', f.name, ENV_OF_STACK),
        Metadata: { 'aws:asset:path': 'asset.not-bundled' },
      };
    }
    writeFileSync(join(dir, 'Mcptt-partner-example.template.json'), JSON.stringify({ Resources: unbundled }));
    // A template that lacks functions is skipped.
    writeFileSync(
      join(dir, 'Aaa-incomplete.template.json'),
      JSON.stringify({ Resources: { HealthFunction12345678: lambda('Aaa', 'health', {}) } }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('maps every function of FUNCTIONS to its bundle by construct id; the system own stack first', () => {
    const bundles = readBundles(dir, 'primary.example');
    expect(bundles.template).toBe(join(dir, 'Mcptt-primary-example.template.json'));
    expect([...bundles.functions.keys()].sort()).toEqual(FUNCTIONS.map((f) => f.name).sort());
    expect(bundles.functions.get('call-setup-tasks')).toMatchObject({
      logicalId: 'CallSetupTasksFunctionAB12CD34',
      entry: join(dir, 'asset.call-setup-tasks', 'index.mjs'),
      exportName: 'handler',
    });
    // Another system: the bundles do not depend on it, the first complete template serves.
    expect(readBundles(dir, 'other.example').template).toBe(join(dir, 'Mcptt-primary-example.template.json'));
    expect(readBundles(dir, 'partner.example').template).toBe(
      join(dir, 'Mcptt-primary-example.template.json'),
    );
    expect(() => readBundles(join(dir, 'nowhere'), 'primary.example')).toThrow(/npm run synth/);
  });

  it('each function gets the variables the stack gives it, with local values; secrets instead of their ARNs', () => {
    const fn: BundleFunction = {
      name: 'call-routing',
      logicalId: 'CallRoutingFunctionAB12CD34',
      entry: '/x/index.mjs',
      exportName: 'handler',
      environment: {
        ...ENV_OF_STACK,
        CALL_SETUP_HOLD_TIMEOUT_MS: '30000',
        EDGE_CONTROL_URL: 'https://edge-control.primary.example',
        EDGE_CONTROL_TOKEN_ARN: { Ref: 'EdgeControlToken' },
      },
    };
    const local = {
      SYSTEM_DOMAIN: 'partner.example',
      TABLE_NAME: 'mcptt',
      TOKEN_SECRET: 's'.repeat(32),
      EDGE_CONTROL_TOKEN: 'e'.repeat(32),
      EDGE_CONTROL_URL: 'http://127.0.0.1:9001',
      PARTNER_TIMEOUT_MS: '500',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:9002',
      SFN_ENDPOINT: 'http://127.0.0.1:9003',
      API_URL: 'http://127.0.0.1:9004',
    };
    expect(bundleEnv(fn, local, { LOG_LEVEL: 'error', UNSET: undefined })).toEqual({
      SYSTEM_DOMAIN: 'partner.example',
      TABLE_NAME: 'mcptt',
      PARTNER_TIMEOUT_MS: '500',
      TOKEN_SECRET: 's'.repeat(32),
      CALL_SETUP_HOLD_TIMEOUT_MS: '30000',
      EDGE_CONTROL_URL: 'http://127.0.0.1:9001',
      EDGE_CONTROL_TOKEN: 'e'.repeat(32),
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:9002',
      SFN_ENDPOINT: 'http://127.0.0.1:9003',
      LOG_LEVEL: 'error',
    });
    // API_URL is not in this function's stack environment, so it does not get it locally either.
    const unknown = { ...fn, environment: { QUEUE_URL: { Ref: 'Queue' } } };
    expect(() => bundleEnv(unknown, local)).toThrow(/QUEUE_URL .* has no local value/);
  });

  it('regroups gets the edge itself instead of the message relay; the relay bundle gets its environment too', () => {
    const local = {
      SYSTEM_DOMAIN: 'primary.example',
      TABLE_NAME: 'mcptt',
      TOKEN_SECRET: 's'.repeat(32),
      EDGE_CONTROL_TOKEN: 'e'.repeat(32),
      EDGE_CONTROL_URL: 'http://127.0.0.1:9001',
      PARTNER_TIMEOUT_MS: '3000',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:9002',
    };
    const regroups: BundleFunction = {
      name: 'regroups',
      logicalId: 'RegroupsFunctionAB12CD34',
      entry: '/x/index.mjs',
      exportName: 'handler',
      environment: { ...ENV_OF_STACK, MESSAGE_RELAY_FUNCTION: { Ref: 'MessageRelayFunctionAB12CD34' } },
    };
    const env = bundleEnv(regroups, local);
    expect(env).toEqual({
      SYSTEM_DOMAIN: 'primary.example',
      TABLE_NAME: 'mcptt',
      PARTNER_TIMEOUT_MS: '3000',
      TOKEN_SECRET: 's'.repeat(32),
      EDGE_CONTROL_URL: 'http://127.0.0.1:9001',
      EDGE_CONTROL_TOKEN: 'e'.repeat(32),
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:9002',
    });
    expect(env).not.toHaveProperty('MESSAGE_RELAY_FUNCTION');
    // Without the edge's URL (the edge not started yet) it cannot start.
    const { EDGE_CONTROL_URL: _, ...noEdge } = local;
    expect(() => bundleEnv(regroups, noEdge)).toThrow(/regroups: no local value for EDGE_CONTROL_URL/);
    // The relay's own bundle (never invoked locally) would still start: no table, the edge's URL and token.
    const relay: BundleFunction = {
      name: 'message-relay',
      logicalId: 'MessageRelayFunctionAB12CD34',
      entry: '/x/index.mjs',
      exportName: 'handler',
      environment: {
        SYSTEM_DOMAIN: 'primary.example',
        PARTNER_TIMEOUT_MS: '3000',
        NODE_OPTIONS: '--enable-source-maps',
        EDGE_CONTROL_URL: 'http://edge-control.mcptt.internal:8061',
        EDGE_CONTROL_TOKEN_ARN: { Ref: 'EdgeControlToken' },
      },
    };
    expect(bundleEnv(relay, local)).toEqual({
      SYSTEM_DOMAIN: 'primary.example',
      PARTNER_TIMEOUT_MS: '3000',
      EDGE_CONTROL_URL: 'http://127.0.0.1:9001',
      EDGE_CONTROL_TOKEN: 'e'.repeat(32),
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:9002',
    });
  });

  describe('worker threads', () => {
    const outputs: FunctionOutput[] = [];
    let primary: BundleRuntime;
    let partner: BundleRuntime;
    const localOf = (system: string) => () => ({
      SYSTEM_DOMAIN: system,
      TABLE_NAME: `table-of-${system}`,
      TOKEN_SECRET: `secret-of-${system}`,
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:1',
    });
    beforeAll(() => {
      const bundles = readBundles(dir, 'primary.example');
      primary = startBundleRuntime({
        system: 'primary.example',
        bundles,
        env: localOf('primary.example'),
        extraEnv: { LOG_LEVEL: 'error' },
        onOutput: (o) => outputs.push(o),
      });
      partner = startBundleRuntime({
        system: 'partner.example',
        bundles: dir,
        env: localOf('partner.example'),
        onOutput: (o) => outputs.push(o),
      });
    });
    afterAll(async () => {
      await primary.stop();
      await partner.stop();
    });

    it('two systems in one process: each function in its own thread with its own environment', async () => {
      expect(primary.loaded()).toEqual([]);
      const [a, b] = (await Promise.all([
        primary.handler('health')({ ping: 1 }, createLambdaContext('health', 5_000)),
        partner.handler('health')({ ping: 2 }, createLambdaContext('health', 5_000)),
      ])) as Record<string, unknown>[];
      expect(a).toMatchObject({
        system: 'primary.example',
        table: 'table-of-primary.example',
        secret: 'secret-of-primary.example',
        secretArn: null,
        nodeOptions: null,
        logLevel: 'error',
        functionName: 'primary.example-health',
        contextName: 'health',
        event: { ping: 1 },
      });
      expect(a?.remaining).toBeGreaterThan(4_000);
      expect(b).toMatchObject({
        system: 'partner.example',
        table: 'table-of-partner.example',
        event: { ping: 2 },
      });
      expect(a?.threadId).not.toBe(b?.threadId);
      expect(a?.threadId).not.toBe(threadId);
      expect(process.env.SYSTEM_DOMAIN).toBeUndefined();
      // The next invocation reuses the warm worker (a second function gets a worker of its own).
      const again = (await primary.handler('health')({}, createLambdaContext('health'))) as Record<
        string,
        unknown
      >;
      expect(again).toMatchObject({ threadId: a?.threadId, invocations: 2 });
      await primary.handler('auth')({}, createLambdaContext('auth'));
      expect(primary.loaded().map((l) => l.fn)).toEqual(['health', 'auth']);
      expect(primary.loaded()[0]?.entry).toBe(join(dir, 'asset.health', 'index.mjs'));
    });

    it('a thrown error keeps its name (the workflow catches by it); output lines are tagged with system and function', async () => {
      const invoke = primary.handler('call-setup-tasks');
      await expect(invoke({ fail: 'PartnerUnavailable' }, createLambdaContext('t'))).rejects.toMatchObject({
        name: 'PartnerUnavailable',
        message: 'asked to fail',
      });
      await invoke({}, createLambdaContext('t'));
      await new Promise((r) => setTimeout(r, 50));
      expect(outputs).toContainEqual({
        system: 'primary.example',
        fn: 'call-setup-tasks',
        stream: 'stdout',
        line: JSON.stringify({ message: 'invoked', system: 'primary.example' }),
      });
    });

    it('after stop, invocations fail', async () => {
      const runtime = startBundleRuntime({
        system: 'x.example',
        bundles: dir,
        env: localOf('x.example'),
        onOutput: () => undefined,
      });
      await runtime.handler('health')({}, createLambdaContext('health'));
      await runtime.stop();
      await expect(runtime.handler('health')({}, createLambdaContext('health'))).rejects.toThrow(/stopped/);
    });
  });
});
