/**
 * functions/message-relay: a batch of SIP MESSAGEs handed over by regroups (asynchronous invocation) goes
 * to the edge control API; a malformed one is logged and dropped (never retried), an edge failure is
 * thrown (Lambda retries the invocation).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MessageBatch } from '#adapters/message-relay-client.ts';
import { buildHandler, relayDepsFromEnv } from '#functions/message-relay/handler.ts';
import { type MessageRelayDeps, relayMessages } from '#functions/message-relay/relay-messages.ts';
import { createLambdaContext } from '#local/lambda-context.ts';

const batch: MessageBatch = {
  from: 'sip:tg-1@primary.example',
  contentType: 'application/vnd.mcptt-regroup.notification+xml',
  body: '<regroup-notification/>',
  targets: [
    { target: 'sip:alice@primary.example', contact: 'sip:alice@198.51.100.7:5060' },
    { target: 'sip:bob@primary.example' },
  ],
};

const fakeEdge = (answer: () => Promise<{ sent: number; skipped: number }>) => {
  const sendMessages = vi.fn<MessageRelayDeps['edge']['sendMessages']>(answer);
  return { deps: { edge: { sendMessages } }, sendMessages };
};

describe('Function: message relay', () => {
  let lines: Record<string, unknown>[];
  const level = process.env.LOG_LEVEL;
  beforeEach(() => {
    process.env.LOG_LEVEL = 'info';
    lines = [];
    const capture = (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>);
    vi.spyOn(console, 'log').mockImplementation(capture);
    vi.spyOn(console, 'error').mockImplementation(capture);
  });
  afterEach(() => {
    process.env.LOG_LEVEL = level;
    vi.restoreAllMocks();
  });

  it('sends a valid batch through the edge, as it is', async () => {
    const { deps, sendMessages } = fakeEdge(async () => ({ sent: 2, skipped: 0 }));
    const handler = buildHandler(async () => deps);
    const out = await handler(batch, createLambdaContext('message-relay', 5_000));
    expect(out).toEqual({ relayed: true, sent: 2, skipped: 0 });
    expect(sendMessages).toHaveBeenCalledTimes(1);
    expect(sendMessages).toHaveBeenCalledWith(batch);
    expect(lines.find((l) => l.message === 'message relay: batch sent')).toMatchObject({
      level: 'info',
      from: batch.from,
      targets: 2,
      sent: 2,
    });
  });

  it.each([
    ['not an object', 'hello'],
    ['null', null],
    ['no targets', { ...batch, targets: [] }],
    ['a target that is not a SIP URI', { ...batch, targets: [{ target: 'alice' }] }],
    ['an unknown field', { ...batch, priority: 'high' }],
    ['an unknown target field', { ...batch, targets: [{ target: 'sip:a@b', legId: '1' }] }],
    ['a two-line content type', { ...batch, contentType: 'text/plain\r\nX-Evil: 1' }],
    ['a body over 16 KB', { ...batch, body: 'x'.repeat(16_385) }],
    ['no from', { contentType: batch.contentType, body: batch.body, targets: batch.targets }],
  ])(
    'drops a malformed batch (%s) with a log line, without calling the edge or failing',
    async (_, event) => {
      const { deps, sendMessages } = fakeEdge(async () => ({ sent: 0, skipped: 0 }));
      const handler = buildHandler(async () => deps);
      const out = await handler(event, createLambdaContext('message-relay', 5_000));
      expect(out).toMatchObject({ relayed: false, dropped: 'malformed', reason: expect.any(String) });
      expect(sendMessages).not.toHaveBeenCalled();
      expect(lines).toEqual([
        expect.objectContaining({ level: 'error', message: 'message relay: malformed batch dropped' }),
      ]);
    },
  );

  it('fails the invocation when the edge does not take the batch (Lambda retries it)', async () => {
    const { deps, sendMessages } = fakeEdge(async () => {
      throw new Error('edge control API /v1/messages answered 503: draining');
    });
    await expect(relayMessages(batch, deps)).rejects.toThrow(/answered 503/);
    expect(sendMessages).toHaveBeenCalledTimes(1);
    expect(lines.find((l) => l.level === 'warn')).toMatchObject({
      message: 'message relay: the edge did not take the batch; the invocation is retried',
      targets: 2,
    });
  });

  it('reaches the edge from EDGE_CONTROL_URL with EDGE_CONTROL_TOKEN; refuses to start without them', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockResolvedValue(new Response('{"sent":2,"skipped":0}'));
    const deps = await relayDepsFromEnv({
      EDGE_CONTROL_URL: 'http://127.0.0.1:9001',
      EDGE_CONTROL_TOKEN: 't'.repeat(32),
    });
    expect(await deps.edge.sendMessages(batch)).toEqual({ sent: 2, skipped: 0 });
    expect(fetch).toHaveBeenCalledWith(
      'http://127.0.0.1:9001/v1/messages',
      expect.objectContaining({
        method: 'POST',
        body: JSON.stringify(batch),
        headers: expect.objectContaining({ authorization: `Bearer ${'t'.repeat(32)}` }),
      }),
    );
    await expect(relayDepsFromEnv({ EDGE_CONTROL_TOKEN: 'x' })).rejects.toThrow(/EDGE_CONTROL_URL/);
    await expect(relayDepsFromEnv({ EDGE_CONTROL_URL: 'http://127.0.0.1:9001' })).rejects.toThrow(
      /EDGE_CONTROL_TOKEN or EDGE_CONTROL_TOKEN_ARN/,
    );
  });
});
