/**
 * adapters/message-relay-client.ts: the edge's sendMessages through the message-relay function, by
 * asynchronous invocations whose payloads stay under Lambda's 256 KB limit.
 */
import type { InvokeCommand } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import {
  ASYNC_INVOKE_PAYLOAD_LIMIT,
  createMessageRelayClient,
  type LambdaInvoker,
  MAX_PAYLOAD_BYTES,
  MAX_TARGETS_PER_BATCH,
  type MessageBatch,
  splitMessageBatch,
} from '#adapters/message-relay-client.ts';

const batchOf = (n: number, body = 'x'.repeat(200)): MessageBatch => ({
  from: 'sip:tg-1@primary.example',
  contentType: 'application/vnd.mcptt-regroup.notification+xml',
  body,
  targets: Array.from({ length: n }, (_, i) => ({
    target: `sip:member-${i}@primary.example`,
    ...(i % 2 === 0 ? { contact: `sip:member-${i}@198.51.100.${i % 250}:5060;transport=udp` } : {}),
  })),
});

/** A fake Lambda client: records each command, answers 202 (or what `status` says). */
const fakeLambda = (status: (call: number) => number = () => 202) => {
  const commands: InvokeCommand[] = [];
  const client: LambdaInvoker = {
    send: async (command) => {
      commands.push(command);
      return { StatusCode: status(commands.length) };
    },
  };
  const payloads = () =>
    commands.map((c) => JSON.parse(new TextDecoder().decode(c.input.Payload as Uint8Array)) as MessageBatch);
  const sizes = () => commands.map((c) => (c.input.Payload as Uint8Array).byteLength);
  return { client, commands, payloads, sizes };
};

describe('Adapter: message relay client', () => {
  it('invokes the relay once, asynchronously, with the batch as it is; sent = targets queued', async () => {
    const lambda = fakeLambda();
    const relay = createMessageRelayClient({ functionName: 'relay-fn', client: lambda.client });
    const batch = batchOf(3);
    expect(await relay.sendMessages(batch)).toEqual({ sent: 3, skipped: 0 });
    expect(lambda.commands).toHaveLength(1);
    expect(lambda.commands[0]?.input).toMatchObject({ FunctionName: 'relay-fn', InvocationType: 'Event' });
    // Exactly the shape of EdgeControl.sendMessages' argument: nothing added, nothing lost.
    expect(lambda.payloads()).toEqual([batch]);
  });

  it('splits a batch too large for one payload by targets, each part under the async limit', async () => {
    const lambda = fakeLambda();
    const relay = createMessageRelayClient({ functionName: 'relay-fn', client: lambda.client });
    // ~4 900 targets of ~100 bytes: about 490 KB, so at least two parts.
    const batch = batchOf(4900, 'b'.repeat(16_000));
    expect(await relay.sendMessages(batch)).toEqual({ sent: 4900, skipped: 0 });
    const parts = lambda.payloads();
    expect(parts.length).toBeGreaterThanOrEqual(2);
    for (const size of lambda.sizes()) {
      expect(size).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
      expect(size).toBeLessThan(ASYNC_INVOKE_PAYLOAD_LIMIT);
    }
    for (const c of lambda.commands) expect(c.input.InvocationType).toBe('Event');
    // Every part keeps from, content type and body; the targets, in order, are the batch's.
    for (const p of parts) expect({ ...p, targets: [] }).toEqual({ ...batch, targets: [] });
    expect(parts.flatMap((p) => p.targets)).toEqual(batch.targets);
    // Greedy: every part but the last is full (the next target would not have fitted).
    for (const [i, p] of parts.slice(0, -1).entries()) {
      const next = parts[i + 1]?.targets[0];
      const grown = { ...p, targets: [...p.targets, next] };
      expect(Buffer.byteLength(JSON.stringify(grown))).toBeGreaterThan(MAX_PAYLOAD_BYTES);
    }
  });

  it('splits exactly at the byte limit given, counting the JSON as sent', () => {
    const batch = batchOf(50);
    for (const max of [600, 1000, 2345, 5000]) {
      const parts = splitMessageBatch(batch, max);
      for (const p of parts) expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThanOrEqual(max);
      expect(parts.flatMap((p) => p.targets)).toEqual(batch.targets);
      for (const [i, p] of parts.slice(0, -1).entries()) {
        const grown = { ...p, targets: [...p.targets, parts[i + 1]?.targets[0]] };
        expect(Buffer.byteLength(JSON.stringify(grown))).toBeGreaterThan(max);
      }
    }
    // Multi-byte characters count as their UTF-8 bytes.
    const accented = { ...batchOf(20), body: 'é'.repeat(300) };
    for (const p of splitMessageBatch(accented, 1500))
      expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThanOrEqual(1500);
  });

  it('never puts more targets in a part than the edge takes in one request', () => {
    const batch = batchOf(MAX_TARGETS_PER_BATCH * 2 + 1, '');
    const parts = splitMessageBatch(batch, Number.MAX_SAFE_INTEGER);
    expect(parts.map((p) => p.targets.length)).toEqual([MAX_TARGETS_PER_BATCH, MAX_TARGETS_PER_BATCH, 1]);
    expect(splitMessageBatch(batchOf(7), Number.MAX_SAFE_INTEGER, 3).map((p) => p.targets.length)).toEqual([
      3, 3, 1,
    ]);
  });

  it('invokes nothing for no targets, and refuses a message that cannot fit alone', async () => {
    const lambda = fakeLambda();
    const relay = createMessageRelayClient({ functionName: 'relay-fn', client: lambda.client });
    expect(await relay.sendMessages(batchOf(0))).toEqual({ sent: 0, skipped: 0 });
    expect(lambda.commands).toEqual([]);
    const huge = batchOf(1, 'x'.repeat(ASYNC_INVOKE_PAYLOAD_LIMIT));
    await expect(relay.sendMessages(huge)).rejects.toThrow(/over the \d+-byte payload limit/);
    expect(lambda.commands).toEqual([]);
  });

  it('fails when Lambda does not accept an invocation, saying how many targets were queued', async () => {
    const lambda = fakeLambda((call) => (call === 2 ? 500 : 202));
    const relay = createMessageRelayClient({
      functionName: 'relay-fn',
      client: lambda.client,
      maxPayloadBytes: 2000,
    });
    const batch = batchOf(40);
    const first = splitMessageBatch(batch, 2000)[0]?.targets.length;
    await expect(relay.sendMessages(batch)).rejects.toThrow(
      new RegExp(`relay-fn did not accept the batch \\(status 500\\); ${first} of 40 targets queued`),
    );
    expect(lambda.commands).toHaveLength(2);
  });
});
