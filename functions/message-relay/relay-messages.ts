/**
 * The message relay: one batch of SIP MESSAGEs, handed over by a function outside the VPC (regroups, by an
 * asynchronous invocation: adapters/message-relay-client.ts), sent through the system's SIP edge control
 * API (`POST /v1/messages`), which only the VPC reaches (decision 0011).
 *
 * A malformed event is logged and dropped: it would be malformed on every retry. A failed call to the edge
 * is thrown, so Lambda retries the invocation (the stack bounds the retries and the event's age).
 */
import { z } from 'zod';
import type { EdgeControl } from '#adapters/edge-control-client.ts';
import { MAX_TARGETS_PER_BATCH, type MessageBatch } from '#adapters/message-relay-client.ts';
import { addLogContext, logger } from '../shared/logger.ts';

/** A SIP or SIPS URI of at most `max` characters (the edge checks it fully). */
const sipUri = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^sips?:[^\s]+$/i, 'must be a SIP URI');

/**
 * The event: exactly the argument of `EdgeControl.sendMessages`, with the bounds of the edge control
 * API's `POST /v1/messages` (edge/control-api.ts), so that what passes here is what the edge accepts.
 */
export const MessageBatchEvent = z.strictObject({
  from: sipUri(512),
  contentType: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[^\r\n]*$/, 'must be one line'),
  body: z.string().max(16_384),
  targets: z
    .array(z.strictObject({ target: sipUri(512), contact: sipUri(1024).optional() }))
    .min(1)
    .max(MAX_TARGETS_PER_BATCH),
}) satisfies z.ZodType<MessageBatch>;

/** What the relay needs: the system's SIP edge. */
export interface MessageRelayDeps {
  edge: Pick<EdgeControl, 'sendMessages'>;
}

/** What became of one event (the invocation's result; nobody reads it in an asynchronous invocation). */
export type RelayOutcome =
  | { relayed: true; sent: number; skipped: number }
  | { relayed: false; dropped: 'malformed'; reason: string };

/**
 * Sends one batch through the edge.
 * @throws the edge's error when the edge control API could not be called or refused the batch.
 */
export const relayMessages = async (event: unknown, deps: MessageRelayDeps): Promise<RelayOutcome> => {
  const parsed = MessageBatchEvent.safeParse(event);
  if (!parsed.success) {
    const reason = z.prettifyError(parsed.error);
    logger.error('message relay: malformed batch dropped', { reason });
    return { relayed: false, dropped: 'malformed', reason };
  }
  const batch = parsed.data;
  addLogContext({ from: batch.from });
  try {
    const out = await deps.edge.sendMessages(batch);
    logger.info('message relay: batch sent', {
      targets: batch.targets.length,
      sent: out.sent,
      skipped: out.skipped,
    });
    return { relayed: true, sent: out.sent, skipped: out.skipped };
  } catch (e) {
    logger.warn('message relay: the edge did not take the batch; the invocation is retried', {
      targets: batch.targets.length,
      reason: (e as Error).message,
    });
    throw e;
  }
};
