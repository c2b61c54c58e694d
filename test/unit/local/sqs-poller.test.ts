import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueue, type LocalSqs, startLocalSqs } from '../../../local/sqs.ts';
import { startSqsPoller } from '../../../local/sqs-poller.ts';

const region = 'us-east-1';

describe('local SQS and poller', () => {
  let sqs: LocalSqs;
  let client: SQSClient;

  beforeAll(async () => {
    sqs = await startLocalSqs();
    client = new SQSClient({
      endpoint: sqs.endpoint,
      region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    client?.destroy();
    await sqs?.close();
  });

  const depth = async (queueUrl: string): Promise<number> => {
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  };

  const until = async (cond: () => boolean | Promise<boolean>, ms = 4000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('listens on loopback and creates a queue with its DLQ', async () => {
    expect(sqs.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const q = await createQueue(client, 'orders', { dlq: { name: 'orders-dlq', maxReceiveCount: 2 } });
    expect(q.queueArn).toBe(`arn:aws:sqs:${region}:000000000000:orders`);
    expect(q.dlq?.queueArn).toBe(`arn:aws:sqs:${region}:000000000000:orders-dlq`);
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: q.queueUrl, AttributeNames: ['RedrivePolicy'] }),
    );
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toMatchObject({
      deadLetterTargetArn: q.dlq?.queueArn,
      maxReceiveCount: 2,
    });
    // Idempotent.
    expect(
      (await createQueue(client, 'orders', { dlq: { name: 'orders-dlq', maxReceiveCount: 2 } })).queueUrl,
    ).toBe(q.queueUrl);
    const fifo = await createQueue(client, 'jobs.fifo');
    expect(fifo.queueArn).toMatch(/:jobs\.fifo$/);
  });

  it('delivers SQSEvents, deletes successes, redelivers batchItemFailures until the DLQ', async () => {
    const q = await createQueue(client, 'work', { dlq: { name: 'work-dlq', maxReceiveCount: 2 } });
    const events: SQSEvent[] = [];
    const poller = startSqsPoller({
      client,
      queueUrl: q.queueUrl,
      queueArn: q.queueArn,
      visibilityTimeoutSeconds: 0, // failed messages come back at once
      handler: async (event) => {
        events.push(event);
        return {
          batchItemFailures: event.Records.filter((r) => r.body === 'bad').map((r) => ({
            itemIdentifier: r.messageId,
          })),
        };
      },
    });
    try {
      await client.send(
        new SendMessageBatchCommand({
          QueueUrl: q.queueUrl,
          Entries: [
            {
              Id: 'a',
              MessageBody: 'good',
              MessageAttributes: { kind: { DataType: 'String', StringValue: 'k1' } },
            },
            { Id: 'b', MessageBody: 'bad' },
          ],
        }),
      );
      await until(async () => (await depth(q.dlq?.queueUrl ?? '')) === 1);
      await until(async () => (await depth(q.queueUrl)) === 0);
      const records = events.flatMap((e) => e.Records);
      const good = records.filter((r) => r.body === 'good');
      expect(good).toHaveLength(1);
      expect(good[0]).toMatchObject({
        eventSource: 'aws:sqs',
        eventSourceARN: q.queueArn,
        awsRegion: region,
        messageAttributes: { kind: { dataType: 'String', stringValue: 'k1' } },
      });
      expect(good[0]?.attributes.SentTimestamp).toMatch(/^\d+$/);
      const bad = records.filter((r) => r.body === 'bad');
      expect(bad.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
      const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl: q.dlq?.queueUrl ?? '' }));
      expect(Messages?.[0]?.Body).toBe('bad');
    } finally {
      await poller.stop();
    }
  });

  it('duplicateDeliveries (test hook): every batch delivered twice with the same records; a failure in either delivery keeps the message', async () => {
    const q = await createQueue(client, 'twice');
    const events: SQSEvent[] = [];
    let failOnce = true;
    const poller = startSqsPoller({
      client,
      queueUrl: q.queueUrl,
      queueArn: q.queueArn,
      visibilityTimeoutSeconds: 0,
      duplicateDeliveries: true,
      handler: async (event) => {
        events.push(event);
        // One of the two deliveries of the first batch fails the message; the other succeeds.
        const fail = failOnce;
        failOnce = false;
        return { batchItemFailures: fail ? event.Records.map((r) => ({ itemIdentifier: r.messageId })) : [] };
      },
    });
    try {
      await client.send(new SendMessageCommand({ QueueUrl: q.queueUrl, MessageBody: 'once' }));
      await until(() => events.length >= 4);
      await until(async () => (await depth(q.queueUrl)) === 0);
      await new Promise((r) => setTimeout(r, 100));
      const records = events.map((e) => e.Records);
      expect(records.map((r) => r.length)).toEqual([1, 1, 1, 1]);
      expect(new Set(records.map((r) => r[0]?.messageId)).size).toBe(1);
      // Deliveries 1 and 2 are the same receive (same receipt handle), 3 and 4 the redelivery.
      expect(records.map((r) => r[0]?.attributes.ApproximateReceiveCount)).toEqual(['1', '1', '2', '2']);
      expect(records[0]?.[0]?.receiptHandle).toBe(records[1]?.[0]?.receiptHandle);
      expect(records[0]?.[0]).not.toBe(records[1]?.[0]);
      expect(records[0]?.[0]).toEqual(records[1]?.[0]);
    } finally {
      await poller.stop();
    }
  });

  it('leaves the whole batch when the handler throws, and stop() ends a 20 s long poll at once', async () => {
    const q = await createQueue(client, 'flaky');
    let calls = 0;
    const errors: unknown[] = [];
    const poller = startSqsPoller({
      client,
      queueUrl: q.queueUrl,
      queueArn: q.queueArn,
      visibilityTimeoutSeconds: 0,
      onError: (err) => errors.push(err),
      handler: async () => {
        calls += 1;
        if (calls === 1) throw new Error('boom');
      },
    });
    await client.send(new SendMessageCommand({ QueueUrl: q.queueUrl, MessageBody: 'x' }));
    await until(() => calls >= 2);
    await until(async () => (await depth(q.queueUrl)) === 0);
    expect(errors).toHaveLength(1);
    // Now idle in a 20 s ReceiveMessage.
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await poller.stop();
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('handles up to `concurrency` batches at once', async () => {
    const q = await createQueue(client, 'parallel');
    let inFlight = 0;
    let most = 0;
    let handled = 0;
    const poller = startSqsPoller({
      client,
      queueUrl: q.queueUrl,
      queueArn: q.queueArn,
      batchSize: 1,
      concurrency: 5,
      handler: async () => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 300));
        inFlight -= 1;
        handled += 1;
      },
    });
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: q.queueUrl,
        Entries: Array.from({ length: 8 }, (_, i) => ({ Id: String(i), MessageBody: `m${i}` })),
      }),
    );
    await until(() => handled === 8);
    await poller.stop();
    expect(most).toBe(5);
  });
});
