/**
 * DynamoDB for the local runtime: dynalite (pure Node, LevelDB on disk or in memory) on loopback,
 * and creation of the system's table from the shared table design.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { INDEXES, TABLE_KEYS } from '../adapters/dynamo/table-design.ts';

/** Options of {@link startDynalite}. */
export interface StartDynaliteOptions {
  /** LevelDB folder (created with `mkdir -p`); omitted = in memory. */
  path?: string;
  /** Port on 127.0.0.1; default 0 (ephemeral). */
  port?: number;
  /**
   * Run dynalite in a worker thread (local/dynalite-worker.mjs) rather than on the caller's event loop:
   * the local systems use this so DynamoDB work runs on another core.
   */
  thread?: boolean;
}

/** A running dynalite. */
export interface LocalDynalite {
  /** e.g. `http://127.0.0.1:40123`. */
  endpoint: string;
  /** Closes all connections, then the store (releasing the LevelDB lock of an on-disk store). */
  close(): Promise<void>;
}

/** The part of `level`'s `Level` used to check that a folder can be opened. */
interface LevelLike {
  open(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens and closes the LevelDB folder once, so that a folder locked by another dynalite (this or
 * another process) fails here with a clear error: dynalite itself would throw an uncaught
 * "Iterator is not open" and leave the request hanging.
 */
const checkLevelDbOpens = async (path: string): Promise<void> => {
  // `level` is dynalite's own dependency: resolve it from dynalite, not from this package.
  const fromHere = createRequire(import.meta.url);
  const fromDynalite = createRequire(fromHere.resolve('dynalite'));
  const { Level } = fromDynalite('level') as { Level: new (p: string, o: object) => LevelLike };
  const db = new Level(path, { valueEncoding: 'json' });
  try {
    await db.open();
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new Error(`cannot open the dynalite data folder ${path} (in use by another process?): ${cause}`, {
      cause: err,
    });
  }
  await db.close();
};

/**
 * Starts dynalite on 127.0.0.1 with tables becoming ACTIVE at once (create/delete/update 0 ms).
 * With `path`, data persists in that LevelDB folder across restarts (also within one process,
 * once the previous instance is closed).
 *
 * Hardening over plain dynalite: a client aborting mid-request no longer crashes the process
 * (dynalite rethrows request errors), and `close()` does not wait for idle keep-alive sockets.
 *
 * @throws When the port is taken or the data folder cannot be opened (e.g. locked).
 */
export async function startDynalite(opts: StartDynaliteOptions = {}): Promise<LocalDynalite> {
  let path: string | undefined;
  if (opts.path !== undefined) {
    path = resolvePath(opts.path);
    await mkdir(path, { recursive: true });
    await checkLevelDbOpens(path);
  }
  if (opts.thread) return startDynaliteThread(path, opts.port);
  const server = dynalite({
    ...(path !== undefined ? { path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });

  // dynalite registers `req.on('error', err => { throw err })`: replace it after each request
  // is set up so that an aborted request only drops its connection.
  const handlers = server.listeners('request') as ((...args: unknown[]) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    for (const h of handlers) h.call(server, req, res);
    req.removeAllListeners('error');
    req.on('error', () => res.destroy());
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }

  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Old-generation limit of the dynalite worker thread's heap. */
export const DYNALITE_WORKER_HEAP_MB = 256;

const startDynaliteThread = async (
  path: string | undefined,
  port: number | undefined,
): Promise<LocalDynalite> => {
  const worker = new Worker(new URL('./dynalite-worker.mjs', import.meta.url), {
    workerData: { path, port: port ?? 0 },
    // A bounded heap, as a container's would be: V8 otherwise lets a busy isolate's old generation
    // grow towards a limit sized from the machine's memory before it collects.
    resourceLimits: { maxOldGenerationSizeMb: DYNALITE_WORKER_HEAP_MB },
  });
  const started = await new Promise<{ port?: number; error?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`dynalite worker exited (${code}) before listening`)));
  });
  if (started.port === undefined) {
    await worker.terminate();
    throw new Error(`dynalite: ${started.error ?? 'did not start'}`);
  }
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${started.port}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage('close');
      });
      return closing;
    },
  };
};

/** CreateTable input of the system's table (table-design.ts): pk/sk, both GSIs (projection ALL), on demand. */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  const indexes = [INDEXES.byUser, INDEXES.byType];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      TABLE_KEYS.partitionKey,
      TABLE_KEYS.sortKey,
      ...indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
    ].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: indexes.map((i) => ({
      IndexName: i.name,
      KeySchema: [
        { AttributeName: i.partitionKey, KeyType: 'HASH' },
        { AttributeName: i.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  };
}

const errorName = (err: unknown): string | undefined => (err instanceof Error ? err.name : undefined);

const describe = async (client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> => {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException') return undefined;
    throw err;
  }
};

const isActive = (t: TableDescription | undefined): boolean =>
  t?.TableStatus === 'ACTIVE' && (t.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE');

/**
 * Creates the system's table ({@link tableDefinition}) unless it exists, then waits until it and its
 * GSIs are ACTIVE. Idempotent and safe to race (`ResourceInUseException` is tolerated).
 *
 * @throws When an existing table lacks one of the design's GSIs, or it is not ACTIVE within `timeoutMs`.
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  timeoutMs = 30_000,
): Promise<void> {
  let table = await describe(client, tableName);
  if (!table) {
    try {
      table = (await client.send(new CreateTableCommand(tableDefinition(tableName)))).TableDescription;
    } catch (err) {
      if (errorName(err) !== 'ResourceInUseException') throw err;
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (!isActive(table)) {
    if (Date.now() > deadline) throw new Error(`table ${tableName} not ACTIVE after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
    table = await describe(client, tableName);
  }
  const present = new Set((table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
  const missing = [INDEXES.byUser.name, INDEXES.byType.name].filter((n) => !present.has(n));
  if (missing.length > 0) {
    throw new Error(
      `table ${tableName} exists without GSI ${missing.join(', ')}: delete it (or its data folder)`,
    );
  }
}
