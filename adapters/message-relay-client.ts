/**
 * Functions outside the VPC → the message-relay function (functions/message-relay) → the SIP edge: the
 * `sendMessages` of the edge control API, by asynchronous Lambda invocations (`InvocationType: 'Event'`).
 * regroups calls partners over the internet, so it runs outside the VPC, which has no NAT gateway and is
 * the only way to the edge control API (decision 0011); the relay runs inside it.
 *
 * Each invocation's payload is one batch in exactly the shape of `EdgeControl.sendMessages`' argument;
 * a batch too large for one asynchronous invocation (256 KB), or with more targets than the edge takes in
 * one request, is split by targets into several. The answer counts the targets queued (`sent`): whether
 * the edge then reached them is known to the relay only (its logs).
 */
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import type { EdgeControl } from './edge-control-client.ts';

/** One batch of SIP MESSAGEs: the argument of `EdgeControl.sendMessages`, and the relay's event. */
export type MessageBatch = Parameters<EdgeControl['sendMessages']>[0];

/** Largest payload of an asynchronous Lambda invocation, bytes. */
export const ASYNC_INVOKE_PAYLOAD_LIMIT = 256 * 1024;
/**
 * Largest payload this client sends, bytes: the asynchronous limit less a margin (the limit applies to
 * the event as Lambda stores it; the margin keeps us clear of any difference in how it counts).
 */
export const MAX_PAYLOAD_BYTES = ASYNC_INVOKE_PAYLOAD_LIMIT - 4 * 1024;
/** Most targets in one batch: what the edge control API takes in one `POST /v1/messages`. */
export const MAX_TARGETS_PER_BATCH = 5000;

/** The part of the Lambda client this adapter uses (tests pass a fake). */
export interface LambdaInvoker {
  send(command: InvokeCommand): Promise<Pick<InvokeCommandOutput, 'StatusCode' | 'FunctionError'>>;
}

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');

/**
 * Splits a batch by its targets so that each part's JSON is at most `maxBytes` bytes and has at most
 * `maxTargets` targets; every part keeps `from`, `contentType` and `body`. No parts for no targets.
 *
 * @throws when even one target does not fit (the body alone is too large).
 */
export const splitMessageBatch = (
  batch: MessageBatch,
  maxBytes: number = MAX_PAYLOAD_BYTES,
  maxTargets: number = MAX_TARGETS_PER_BATCH,
): MessageBatch[] => {
  const base = bytes({ ...batch, targets: [] });
  const parts: MessageBatch[] = [];
  let targets: MessageBatch['targets'] = [];
  let size = base;
  for (const target of batch.targets) {
    const cost = bytes(target);
    if (targets.length > 0 && (size + 1 + cost > maxBytes || targets.length >= maxTargets)) {
      parts.push({ ...batch, targets });
      targets = [];
      size = base;
    }
    // The JSON grows by the target, and by the comma before it unless it is the first.
    const grown = size + (targets.length > 0 ? 1 : 0) + cost;
    if (grown > maxBytes) {
      throw new Error(
        `message relay: a message to ${target.target} alone is ${grown} bytes, over the ${maxBytes}-byte payload limit`,
      );
    }
    targets.push(target);
    size = grown;
  }
  if (targets.length > 0) parts.push({ ...batch, targets });
  return parts;
};

/**
 * The edge's `sendMessages` through the message-relay function named `functionName`: one asynchronous
 * invocation per part of the batch ({@link splitMessageBatch}), in order. `sent` is the number of targets
 * queued, `skipped` 0; an invocation that Lambda does not accept (not 202) is an error, after which the
 * parts already queued stay queued.
 */
export const createMessageRelayClient = (opts: {
  functionName: string;
  /** Default: a Lambda client of the function's own region and credentials, created on first use. */
  client?: LambdaInvoker;
  maxPayloadBytes?: number;
}): Pick<EdgeControl, 'sendMessages'> => {
  let client = opts.client;
  const encoder = new TextEncoder();
  return {
    async sendMessages(batch) {
      const parts = splitMessageBatch(batch, opts.maxPayloadBytes ?? MAX_PAYLOAD_BYTES);
      client ??= new LambdaClient({});
      let queued = 0;
      for (const part of parts) {
        const out = await client.send(
          new InvokeCommand({
            FunctionName: opts.functionName,
            InvocationType: 'Event',
            Payload: encoder.encode(JSON.stringify(part)),
          }),
        );
        if (out.StatusCode !== 202) {
          throw new Error(
            `message relay ${opts.functionName} did not accept the batch (status ${out.StatusCode ?? 'none'}` +
              `${out.FunctionError ? `, ${out.FunctionError}` : ''}); ${queued} of ${batch.targets.length} targets queued`,
          );
        }
        queued += part.targets.length;
      }
      return { sent: queued, skipped: 0 };
    },
  };
};
