/**
 * The deployed bundles, run locally (`npm start -- --bundles cdk.out`): the esbuild bundles that
 * `cdk synth` writes (cdk.out/asset.<hash>/index.mjs, one per function of lib/routes.ts FUNCTIONS)
 * instead of the source modules, so what is deployed is what the local runtime runs and the tests test.
 *
 * - {@link readBundles} finds each function's bundle in the system's synthesized template: its
 *   `AWS::Lambda::Function` resource (construct id `<PascalName>Function`), asset path (Metadata
 *   `aws:asset:path`), `Handler` and environment variable names.
 * - {@link bundleEnv} gives each function the environment the stack gives it, with local values: the
 *   same variable names (a deployed function missing a variable misses it locally too), AWS references
 *   replaced (table name, state machine ARN, API URL, edge control URL), secret ARNs replaced by the secret
 *   itself (`TOKEN_SECRET_ARN` → `TOKEN_SECRET`, `EDGE_CONTROL_TOKEN_ARN` → `EDGE_CONTROL_TOKEN`), the
 *   message relay replaced by the edge itself (`MESSAGE_RELAY_FUNCTION` → `EDGE_CONTROL_URL` and
 *   `EDGE_CONTROL_TOKEN`), plus the local service endpoints (`DYNAMODB_ENDPOINT`, `SFN_ENDPOINT`).
 * - {@link startBundleRuntime} runs each function of a system in a worker thread of its own, started on
 *   its first invocation (a cold start): a worker's process.env is its own, so two systems in one
 *   process each get their environment, as two Lambda containers would.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import { ENV, FUNCTIONS, type FunctionName } from '../lib/routes.ts';
import { stackIdFor } from '../lib/systems-from-config.ts';

/** One function's bundle, as the synthesized template deploys it. */
export interface BundleFunction {
  name: FunctionName;
  /** Logical id of its `AWS::Lambda::Function` resource. */
  logicalId: string;
  /** The bundle module (absolute path), e.g. `…/cdk.out/asset.<hash>/index.mjs`. */
  entry: string;
  /** The handler's export name (`index.handler` → `handler`). */
  exportName: string;
  /** The deployed environment: literal values as strings, CloudFormation expressions as objects. */
  environment: Readonly<Record<string, unknown>>;
}

/** The bundles of one system's stack. */
export interface Bundles {
  /** The cdk.out directory (absolute). */
  dir: string;
  /** The template they were read from. */
  template: string;
  functions: ReadonlyMap<FunctionName, BundleFunction>;
}

interface TemplateResource {
  Type?: string;
  Metadata?: Record<string, unknown>;
  Properties?: {
    Handler?: string;
    Environment?: { Variables?: Record<string, unknown> };
  };
}

/** `call-setup-tasks` → `CallSetupTasks`, as the stack names its constructs. */
const pascal = (name: string): string =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

const BY_CONSTRUCT = new Map(FUNCTIONS.map((f) => [`${pascal(f.name)}Function`, f.name]));

/** The function a Lambda resource deploys: by its construct path, else by its logical id prefix. */
const functionOf = (logicalId: string, resource: TemplateResource): FunctionName | undefined => {
  const path = resource.Metadata?.['aws:cdk:path'];
  const construct = typeof path === 'string' ? /^[^/]+\/([^/]+)\/Resource$/.exec(path)?.[1] : undefined;
  if (construct) return BY_CONSTRUCT.get(construct);
  const prefix = /^(.+Function)[0-9A-F]{8}$/.exec(logicalId)?.[1];
  return prefix ? BY_CONSTRUCT.get(prefix) : undefined;
};

const readTemplate = (file: string): Record<string, TemplateResource> => {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { Resources?: Record<string, TemplateResource> };
  return json.Resources ?? {};
};

/** The bundle module of a handler spec (`index.handler` → `index.mjs`, `.js` or `.cjs` in the asset). */
const moduleOf = (assetDir: string, handler: string): { entry: string; exportName: string } => {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw new Error(`handler ${handler} is not <module>.<export>`);
  const base = join(assetDir, handler.slice(0, dot));
  const entry = ['.mjs', '.js', '.cjs'].map((ext) => base + ext).find((f) => existsSync(f));
  if (!entry) throw new Error(`no module ${handler.slice(0, dot)}.mjs/.js in ${assetDir}`);
  return { entry, exportName: handler.slice(dot + 1) };
};

/**
 * The bundles of `system` in a cdk.out directory: its own stack's template (`<stack id>.template.json`)
 * when there is one, otherwise the first template deploying every function (the bundles do not depend on
 * the system: its domain and resources come from the environment).
 *
 * @throws when no template deploys every function of FUNCTIONS, or a bundle file is missing.
 */
export const readBundles = (dir: string, system: string): Bundles => {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new Error(`bundles: ${abs} does not exist (run npm run synth first)`);
  const own = join(abs, `${stackIdFor(system)}.template.json`);
  const candidates = [
    ...(existsSync(own) ? [own] : []),
    ...readdirSync(abs)
      .filter((f) => f.endsWith('.template.json'))
      .sort()
      .map((f) => join(abs, f))
      .filter((f) => f !== own),
  ];
  const problems: string[] = [];
  for (const template of candidates) {
    const functions = new Map<FunctionName, BundleFunction>();
    try {
      for (const [logicalId, resource] of Object.entries(readTemplate(template))) {
        if (resource.Type !== 'AWS::Lambda::Function') continue;
        const name = functionOf(logicalId, resource);
        const assetPath = resource.Metadata?.['aws:asset:path'];
        if (!name || typeof assetPath !== 'string') continue;
        const { entry, exportName } = moduleOf(join(abs, assetPath), resource.Properties?.Handler ?? '');
        functions.set(name, {
          name,
          logicalId,
          entry,
          exportName,
          environment: { ...resource.Properties?.Environment?.Variables },
        });
      }
    } catch (e) {
      // e.g. `cdk synth <one stack>` bundles that stack's assets only: another template may serve.
      problems.push(`${template}: ${(e as Error).message}`);
      continue;
    }
    const missing = FUNCTIONS.filter((f) => !functions.has(f.name)).map((f) => f.name);
    if (missing.length === 0) return { dir: abs, template, functions };
    problems.push(`${template}: no bundle for ${missing.join(', ')}`);
  }
  throw new Error(
    `bundles: no template in ${abs} deploys every function${problems.length ? `\n  ${problems.join('\n  ')}` : ''}`,
  );
};

/** The local values of a system's functions' environment (lib/routes.ts ENV names and a few more). */
export type LocalFunctionEnv = Readonly<Record<string, string | undefined>>;

/** Deployed variables holding a secret's ARN → the local variable holding the secret itself. */
const SECRET_ARNS: Readonly<Record<string, string>> = {
  [ENV.tokenSecretArn]: ENV.tokenSecret,
  [ENV.edgeControlTokenArn]: ENV.edgeControlToken,
};

/**
 * Deployed variables replaced locally by others. `MESSAGE_RELAY_FUNCTION` names the message-relay function,
 * which regroups invokes in AWS because it runs outside the VPC and cannot reach the edge control API
 * (decision 0011). Locally every function reaches the edge, so regroups gets the edge's URL and token
 * instead and sends its notices to the edge directly, as it does from the source modules; the
 * message-relay bundle is never invoked (it is read with the others, and would start like them).
 */
const REPLACED: Readonly<Record<string, readonly string[]>> = {
  [ENV.messageRelayFunction]: [ENV.edgeControlUrl, ENV.edgeControlToken],
};

/** Deployed variables that make no sense in a worker thread. */
const DROPPED = new Set(['NODE_OPTIONS']);

/** Local service endpoints every function gets (there is no local default endpoint). */
const LOCAL_ONLY = [ENV.dynamodbEndpoint, ENV.sfnEndpoint] as const;

/**
 * The environment of one bundled function locally: each variable the stack sets, with its local value
 * when `local` has one (the system's domain, table, endpoints, URLs), else its deployed value when that
 * is a literal; secret ARNs become the secrets; the message relay becomes the edge ({@link REPLACED});
 * plus the local endpoints and `extra` (log level, metrics switch, AWS_LAMBDA_FUNCTION_NAME, …).
 *
 * @throws when a deployed variable is a CloudFormation expression with no local value (the local
 *   runtime would not know what to give the function: add it to the local values).
 */
export const bundleEnv = (
  fn: BundleFunction,
  local: LocalFunctionEnv,
  extra: Readonly<Record<string, string | undefined>> = {},
): Record<string, string> => {
  const env: Record<string, string> = {};
  const put = (name: string, value: string | undefined) => {
    if (value !== undefined) env[name] = value;
  };
  for (const [name, deployed] of Object.entries(fn.environment)) {
    if (DROPPED.has(name)) continue;
    const replacements = REPLACED[name];
    if (replacements) {
      for (const r of replacements) {
        const value = local[r];
        if (value === undefined) throw new Error(`bundles: ${fn.name}: no local value for ${r} (${name})`);
        put(r, value);
      }
      continue;
    }
    const secretVar = SECRET_ARNS[name];
    if (secretVar) {
      const secret = local[secretVar];
      if (secret === undefined)
        throw new Error(`bundles: ${fn.name}: no local value for ${secretVar} (${name})`);
      put(secretVar, secret);
      continue;
    }
    const value = local[name] ?? (typeof deployed === 'string' ? deployed : undefined);
    if (value === undefined) {
      throw new Error(
        `bundles: ${fn.name}: environment variable ${name} is ${JSON.stringify(deployed)} in the stack and has no local value`,
      );
    }
    put(name, value);
  }
  for (const name of LOCAL_ONLY) put(name, local[name]);
  for (const [name, value] of Object.entries(extra)) put(name, value);
  return env;
};

// ---------------------------------------------------------------------------------------------
// Worker threads

const WORKER_FILE = fileURLToPath(new URL('./bundle-worker.mjs', import.meta.url));

/** A handler running in a bundle worker: the event and result cross as JSON, like Lambda's. */
export type BundleHandler = (event: unknown, context: Context) => Promise<unknown>;

/** One line a function wrote to stdout or stderr. */
export interface FunctionOutput {
  system: string;
  fn: FunctionName;
  stream: 'stdout' | 'stderr';
  line: string;
}

/** A started function worker, for reports and tests. */
export interface LoadedBundle {
  fn: FunctionName;
  entry: string;
  threadId: number;
}

export interface BundleRuntime {
  bundles: Bundles;
  /** The handler of a function (its worker starts on the first invocation). */
  handler(fn: FunctionName): BundleHandler;
  /** The workers started so far. */
  loaded(): LoadedBundle[];
  /** Terminates every worker; invocations in flight fail. */
  stop(): Promise<void>;
}

export interface BundleRuntimeOptions {
  /** The system's domain. */
  system: string;
  /** The cdk.out directory, or bundles already read from it. */
  bundles: string | Bundles;
  /**
   * The local values of the environment (see {@link bundleEnv}); read when a worker starts, so values
   * known only once the system runs (the workflow's endpoint) may be filled in after this call.
   */
  env: () => LocalFunctionEnv;
  /** Variables given to every function as they are (LOG_LEVEL, the metrics switch, …). */
  extraEnv?: Readonly<Record<string, string | undefined>>;
  /** Every line the functions write; default: to this process's stdout/stderr. */
  onOutput?: (out: FunctionOutput) => void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface FunctionWorker {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, Pending>;
}

const errorFrom = (e: { name?: string; message?: string; stack?: string }): Error => {
  const err = new Error(e.message ?? 'error in a bundled function');
  err.name = e.name ?? 'Error';
  if (e.stack) err.stack = e.stack;
  return err;
};

/** Splits a stream into lines for `emit`. */
const lines = (stream: NodeJS.ReadableStream, emit: (line: string) => void): void => {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      emit(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (buffer) emit(buffer);
  });
};

/** Runs the bundled functions of one system, each in a worker thread started on first use. */
export const startBundleRuntime = (opts: BundleRuntimeOptions): BundleRuntime => {
  const bundles = typeof opts.bundles === 'string' ? readBundles(opts.bundles, opts.system) : opts.bundles;
  const workers = new Map<FunctionName, FunctionWorker>();
  const loaded: LoadedBundle[] = [];
  const onOutput =
    opts.onOutput ??
    ((o: FunctionOutput) => (o.stream === 'stdout' ? process.stdout : process.stderr).write(`${o.line}\n`));
  let nextId = 1;
  let stopped = false;

  const start = (fn: BundleFunction): FunctionWorker => {
    const env = bundleEnv(fn, opts.env(), {
      AWS_LAMBDA_FUNCTION_NAME: `${opts.system}-${fn.name}`,
      ...opts.extraEnv,
    });
    const worker = new Worker(WORKER_FILE, {
      workerData: { entry: fn.entry, exportName: fn.exportName },
      env,
      stdout: true,
      stderr: true,
      name: `${opts.system} ${fn.name}`,
    });
    const pending = new Map<number, Pending>();
    const fail = (err: Error) => {
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      // The next invocation starts a new worker (a new container, as Lambda would).
      if (workers.get(fn.name)?.worker === worker) workers.delete(fn.name);
    };
    lines(worker.stdout, (line) => onOutput({ system: opts.system, fn: fn.name, stream: 'stdout', line }));
    lines(worker.stderr, (line) => onOutput({ system: opts.system, fn: fn.name, stream: 'stderr', line }));
    const ready = new Promise<void>((resolveReady, rejectReady) => {
      worker.on(
        'message',
        (msg: { type?: string; id?: number; ok?: boolean; result?: string | null; error?: never }) => {
          if (msg.type === 'ready') {
            loaded.push({ fn: fn.name, entry: fn.entry, threadId: worker.threadId });
            resolveReady();
            return;
          }
          if (msg.type === 'init-error') {
            const err = errorFrom(msg.error ?? {});
            rejectReady(err);
            fail(err);
            void worker.terminate();
            return;
          }
          const p = msg.id === undefined ? undefined : pending.get(msg.id);
          if (!p || msg.id === undefined) return;
          pending.delete(msg.id);
          if (msg.ok)
            p.resolve(msg.result === null || msg.result === undefined ? undefined : JSON.parse(msg.result));
          else p.reject(errorFrom(msg.error ?? {}));
        },
      );
      worker.on('error', (e) => {
        rejectReady(e);
        fail(e);
      });
      worker.on('exit', (code) => {
        const err = new Error(`${opts.system} ${fn.name}: bundle worker exited (code ${code})`);
        rejectReady(err);
        fail(err);
      });
    });
    ready.catch(() => undefined);
    const w = { worker, ready, pending };
    workers.set(fn.name, w);
    return w;
  };

  const handler = (name: FunctionName): BundleHandler => {
    const fn = bundles.functions.get(name);
    if (!fn) throw new Error(`bundles: no bundle for ${name}`);
    return async (event, context) => {
      if (stopped) throw new Error(`${opts.system} ${name}: the bundle runtime is stopped`);
      const w = workers.get(name) ?? start(fn);
      await w.ready;
      const id = nextId++;
      return new Promise((resolvePromise, reject) => {
        w.pending.set(id, { resolve: resolvePromise, reject });
        w.worker.postMessage({
          id,
          event: JSON.stringify(event ?? null),
          context: {
            functionName: context.functionName,
            functionVersion: context.functionVersion,
            invokedFunctionArn: context.invokedFunctionArn,
            memoryLimitInMB: context.memoryLimitInMB,
            awsRequestId: context.awsRequestId,
            logGroupName: context.logGroupName,
            logStreamName: context.logStreamName,
            deadline: Date.now() + context.getRemainingTimeInMillis(),
          },
        });
      });
    };
  };

  return {
    bundles,
    handler,
    loaded: () => [...loaded],
    async stop() {
      stopped = true;
      const all = [...workers.values()];
      workers.clear();
      await Promise.allSettled(all.map((w) => w.worker.terminate()));
    },
  };
};
