/**
 * Test fixture for the CDK stack: a temporary entry root with one trivial handler per FUNCTIONS entry,
 * so that the stack tests do not depend on the real handlers (written elsewhere) and bundle fast.
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { REPO_ROOT } from '../../lib/mcptt-system-stack.ts';
import { FUNCTIONS, type FunctionName } from '../../lib/routes.ts';

/** The function whose fixture handler imports the AWS SDK, to check that the SDK is bundled. */
export const SDK_IMPORTING_FUNCTION: FunctionName = 'health';

/** A temporary entry root; `dispose()` removes it. */
export interface EntryRoot {
  readonly dir: string;
  dispose(): void;
}

/**
 * Creates a temporary entry root: `functions/<name>/handler.ts` for every function (trivial handlers),
 * a copy of the repository's package-lock.json, and a `node_modules` symlink to the repository's
 * (NodejsFunction runs `npx --no-install esbuild` from the project root).
 */
export function createEntryRoot(): EntryRoot {
  const dir = mkdtempSync(join(tmpdir(), 'mcptt-cdk-test-'));
  copyFileSync(join(REPO_ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  for (const spec of FUNCTIONS) {
    const file = join(dir, spec.entry);
    mkdirSync(dirname(file), { recursive: true });
    const body =
      spec.name === SDK_IMPORTING_FUNCTION
        ? [
            "import { DynamoDBClient, DescribeTableCommand } from '@aws-sdk/client-dynamodb';",
            'const client = new DynamoDBClient({});',
            'export const handler = async () => {',
            '  await client.send(new DescribeTableCommand({ TableName: process.env.TABLE_NAME }));',
            "  return { statusCode: 200, body: 'ok' };",
            '};',
          ]
        : [`export const handler = async () => ({ statusCode: 200, body: '${spec.name}' });`];
    writeFileSync(file, `${body.join('\n')}\n`);
  }
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The feature flags of cdk.json (without the app's own context such as `config`). */
export function cdkJsonFeatureFlags(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return Object.fromEntries(
    Object.entries(cdkJson.context ?? {}).filter(([key]) => key.startsWith('@aws-cdk')),
  );
}

/**
 * A CDK app configured like `cdk synth` with cdk.json's feature flags, whose cloud assembly goes under
 * `root` (removed with it).
 * @param bundle - false to skip asset bundling (for tests that only look at a property).
 */
export function testApp(root: EntryRoot, bundle = true): App {
  return new App({
    outdir: mkdtempSync(join(root.dir, 'cdk.out-')),
    context: { ...cdkJsonFeatureFlags(), ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
}
