/**
 * SQS for the local runtime: fauxqs (in-memory, JSON protocol) on loopback, and queue creation
 * (optionally with a dead-letter queue) through the ordinary SDK calls.
 *
 * Clients must set `endpoint` to {@link LocalSqs.endpoint}: fauxqs queue URLs have the AWS form
 * `http://sqs.<region>.localhost:<port>/000000000000/<name>`, which does not resolve by itself.
 */
import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';

/** Options of {@link startLocalSqs}. */
export interface StartLocalSqsOptions {
  /** Port on 127.0.0.1; default 0 (ephemeral). */
  port?: number;
  /** Region used when a request carries none (unsigned); default `us-east-1` (fauxqs' default). */
  defaultRegion?: string;
}

/** A running fauxqs. */
export interface LocalSqs {
  /** e.g. `http://127.0.0.1:40123`: the SQS client `endpoint`. */
  endpoint: string;
  /** Closes the server (in-flight long polls are cut). Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts fauxqs on 127.0.0.1 only (`startFauxqs()` would bind 0.0.0.0). State is in memory.
 *
 * @throws When the port is taken.
 */
export async function startLocalSqs(opts: StartLocalSqsOptions = {}): Promise<LocalSqs> {
  const app = buildApp({
    logger: false,
    ...(opts.defaultRegion ? { defaultRegion: opts.defaultRegion } : {}),
  });
  try {
    await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  } catch (err) {
    await app.close();
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      closing ??= (async () => {
        // Long polls (ReceiveMessage up to 20 s) would otherwise hold close() up.
        app.server.closeAllConnections();
        await app.close();
      })();
      return closing;
    },
  };
}

/** Options of {@link createQueue}. */
export interface CreateQueueOptions {
  /** Dead-letter queue, created first; the queue gets a `RedrivePolicy` to it. */
  dlq?: { name: string; maxReceiveCount: number };
  /** Further queue attributes (e.g. `VisibilityTimeout`); `FifoQueue` is set for `*.fifo` names. */
  attributes?: Record<string, string>;
}

/** A queue made by {@link createQueue}. */
export interface CreatedQueue {
  queueUrl: string;
  queueArn: string;
  dlq?: { queueUrl: string; queueArn: string };
}

const createOne = async (
  client: SQSClient,
  name: string,
  attributes: Record<string, string> | undefined,
): Promise<{ queueUrl: string; queueArn: string }> => {
  const all = name.endsWith('.fifo') ? { FifoQueue: 'true', ...attributes } : attributes;
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({ QueueName: name, ...(all ? { Attributes: all } : {}) }),
  );
  if (!QueueUrl) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queueArn = Attributes?.QueueArn;
  if (!queueArn) throw new Error(`queue ${name} has no QueueArn`);
  return { queueUrl: QueueUrl, queueArn };
};

/**
 * Creates `name` (idempotent like CreateQueue: same attributes = same queue), with its DLQ first
 * when `opts.dlq` is given. A FIFO queue's DLQ must itself be named `*.fifo` (as in AWS).
 */
export async function createQueue(
  client: SQSClient,
  name: string,
  opts: CreateQueueOptions = {},
): Promise<CreatedQueue> {
  let dlq: { queueUrl: string; queueArn: string } | undefined;
  const attributes: Record<string, string> = { ...opts.attributes };
  if (opts.dlq) {
    dlq = await createOne(client, opts.dlq.name, undefined);
    attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: dlq.queueArn,
      maxReceiveCount: opts.dlq.maxReceiveCount,
    });
  }
  const queue = await createOne(client, name, Object.keys(attributes).length > 0 ? attributes : undefined);
  return dlq ? { ...queue, dlq } : queue;
}
