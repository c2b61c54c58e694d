/**
 * A fake AWS Lambda `Context` for the local runtime: the same fields a function sees in AWS, with
 * a real deadline so that `getRemainingTimeInMillis()` counts down from the function timeout.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** Default function timeout, milliseconds (the stack's API functions use 29 s or less). */
export const DEFAULT_LAMBDA_TIMEOUT_MS = 30_000;

/** Options of {@link createLambdaContext} beyond the function name and timeout. */
export interface LambdaContextOptions {
  /** Default: `AWS_REGION` or `local`. */
  region?: string;
  /** Default: `000000000000`. */
  accountId?: string;
  /** Default: 128. */
  memoryMb?: number;
  /** Default: a random UUID, like Lambda's request ids. */
  awsRequestId?: string;
  /** Clock, for tests. Default: `Date.now`. */
  now?: () => number;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/**
 * Creates the context of one local invocation of `functionName`.
 *
 * @param functionName - Lambda function name (locally the function's short name, e.g. `regroups`).
 * @param timeoutMs - Function timeout; the deadline starts now. Default {@link DEFAULT_LAMBDA_TIMEOUT_MS}.
 * @param options - Region, account, memory, request id, clock.
 * @returns A `Context` whose deprecated `done`/`fail`/`succeed` throw (handlers must return promises).
 */
export function createLambdaContext(
  functionName: string,
  timeoutMs: number = DEFAULT_LAMBDA_TIMEOUT_MS,
  options: LambdaContextOptions = {},
): Context {
  const now = options.now ?? Date.now;
  const deadline = now() + timeoutMs;
  const region = options.region ?? process.env.AWS_REGION ?? 'local';
  const accountId = options.accountId ?? '000000000000';
  const started = new Date(now());
  const day = `${started.getUTCFullYear()}/${pad(started.getUTCMonth() + 1)}/${pad(started.getUTCDate())}`;
  const unsupported = (name: string) => (): never => {
    throw new Error(`context.${name}() is not supported: return a promise from the handler`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
    memoryLimitInMB: String(options.memoryMb ?? 128),
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}
