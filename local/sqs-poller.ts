/**
 * A local SQS event source mapping: long-polls a queue and invokes a handler with real `SQSEvent`s,
 * with `ReportBatchItemFailures` semantics: the messages listed in `batchItemFailures` are left to
 * become visible again (and reach the DLQ after `maxReceiveCount`), the others are deleted; a
 * handler that throws fails the whole batch.
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';

/** The SQS consumer: an `SQSHandler` with `ReportBatchItemFailures` (void = all succeeded). */
export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse | undefined> | Promise<void>;

/** Options of {@link startSqsPoller}. */
export interface SqsPollerOptions {
  /** Client with the local `endpoint`. Not destroyed by `stop()`. */
  client: SQSClient;
  queueUrl: string;
  /** `eventSourceARN` of the records. */
  queueArn: string;
  handler: SqsBatchHandler;
  /** `awsRegion` of the records; default `us-east-1`. */
  region?: string;
  /** Long-poll wait, 0..20 s; default 20. */
  waitTimeSeconds?: number;
  /** Messages per batch, 1..10; default 10. */
  batchSize?: number;
  /**
   * Batches in flight at once, each from its own long poll; default 1. Lambda's event source mapping
   * polls a standard queue with five pollers to begin with, but fauxqs answers every waiting long poll
   * when one message arrives (SQS hands it to one), so five local pollers mostly add empty receives:
   * 7.3 SQS requests a call instead of 3 in the benchmark, with no faster setup.
   */
  concurrency?: number;
  /** VisibilityTimeout of received messages (s); default: the queue's. */
  visibilityTimeoutSeconds?: number;
  /** Called with handler and SQS errors (the loop goes on after a short pause). */
  onError?: (err: unknown) => void;
  /**
   * TEST hook (SQS is at-least-once): every batch is delivered twice, concurrently, with the same
   * records, as two consumers receiving the same messages would. A message is deleted only when
   * neither delivery reported it failed; a delivery that throws leaves the whole batch.
   */
  duplicateDeliveries?: boolean;
}

/** A running poller. */
export interface SqsPoller {
  /** Ends the loop promptly (aborts the pending long poll) and waits for the current batch. */
  stop(): Promise<void>;
}

const toRecordAttributes = (m: Message): SQSRecord['attributes'] => {
  const a = m.Attributes ?? {};
  return {
    ...a,
    ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
    SentTimestamp: a.SentTimestamp ?? String(Date.now()),
    SenderId: a.SenderId ?? '000000000000',
    ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  };
};

const toMessageAttributes = (
  attrs: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes => {
  const out: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(attrs ?? {})) {
    out[name] = {
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
      dataType: v.DataType ?? 'String',
    };
  }
  return out;
};

/** The `SQSRecord` Lambda would deliver for `m`. */
export const toSqsRecord = (m: Message, queueArn: string, region: string): SQSRecord => ({
  messageId: m.MessageId ?? '',
  receiptHandle: m.ReceiptHandle ?? '',
  body: m.Body ?? '',
  attributes: toRecordAttributes(m),
  messageAttributes: toMessageAttributes(m.MessageAttributes),
  md5OfBody: m.MD5OfBody ?? '',
  ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
  eventSource: 'aws:sqs',
  eventSourceARN: queueArn,
  awsRegion: region,
});

const isAbort = (err: unknown): boolean => err instanceof Error && err.name === 'AbortError';

/**
 * Starts the loops: each ReceiveMessage (long poll) → handler → DeleteMessageBatch of the successes;
 * `concurrency` loops, so up to that many batches are handled at once (a standard queue has no order).
 */
export function startSqsPoller(opts: SqsPollerOptions): SqsPoller {
  const region = opts.region ?? 'us-east-1';
  const abort = new AbortController();
  const onError = opts.onError ?? ((err: unknown) => console.error('sqs poller:', err));
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      abort.signal.addEventListener('abort', done, { once: true });
    });

  const handleBatch = async (messages: Message[]): Promise<void> => {
    const records = messages.map((m) => toSqsRecord(m, opts.queueArn, region));
    let failed: Set<string>;
    try {
      const deliveries = await Promise.allSettled(
        Array.from({ length: opts.duplicateDeliveries ? 2 : 1 }, async () =>
          opts.handler({ Records: structuredClone(records) }),
        ),
      );
      const thrown = deliveries.find((d) => d.status === 'rejected');
      if (thrown) throw thrown.reason;
      failed = new Set(
        deliveries.flatMap((d) =>
          d.status === 'fulfilled' ? (d.value?.batchItemFailures ?? []).map((f) => f.itemIdentifier) : [],
        ),
      );
    } catch (err) {
      onError(err);
      return; // the whole batch becomes visible again
    }
    const done = records.filter((r) => !failed.has(r.messageId));
    if (done.length === 0) return;
    const res = await opts.client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: opts.queueUrl,
        Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }),
    );
    if (res.Failed && res.Failed.length > 0)
      onError(new Error(`DeleteMessageBatch failed: ${JSON.stringify(res.Failed)}`));
  };

  const loop = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      try {
        const { Messages } = await opts.client.send(
          new ReceiveMessageCommand({
            QueueUrl: opts.queueUrl,
            MaxNumberOfMessages: Math.min(Math.max(opts.batchSize ?? 10, 1), 10),
            WaitTimeSeconds: Math.min(Math.max(opts.waitTimeSeconds ?? 20, 0), 20),
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
            ...(opts.visibilityTimeoutSeconds !== undefined
              ? { VisibilityTimeout: opts.visibilityTimeoutSeconds }
              : {}),
          }),
          { abortSignal: abort.signal },
        );
        if (Messages && Messages.length > 0) await handleBatch(Messages);
      } catch (err) {
        if (abort.signal.aborted || isAbort(err)) break;
        onError(err);
        await pause(500);
      }
    }
  };

  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 1));
  const running = Promise.all(Array.from({ length: concurrency }, () => loop()));
  return {
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}
