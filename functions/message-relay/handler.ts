// functions/message-relay/handler.ts — invoked asynchronously by the functions outside the VPC (regroups)
// with one batch of SIP MESSAGEs; sends it through the SIP edge control API, which only the VPC reaches.
// Runs in the VPC with the edge clients' security group; no table.
import middy from '@middy/core';
import { createEdgeControlClient } from '#adapters/edge-control-client.ts';
import { readSecret } from '#adapters/secrets.ts';
import { ENV } from '../../lib/routes.ts';
import { once } from '../shared/http-function.ts';
import { withLogContext } from '../shared/logger.ts';
import { type MessageRelayDeps, type RelayOutcome, relayMessages } from './relay-messages.ts';

/**
 * The relay's deps from its environment: `EDGE_CONTROL_URL`, and `EDGE_CONTROL_TOKEN` (local) or
 * `EDGE_CONTROL_TOKEN_ARN` (AWS: read from Secrets Manager).
 */
export const relayDepsFromEnv = async (
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<MessageRelayDeps> => {
  const url = env[ENV.edgeControlUrl];
  if (!url) throw new Error(`missing environment variable ${ENV.edgeControlUrl}`);
  const tokenArn = env[ENV.edgeControlTokenArn];
  const token = env[ENV.edgeControlToken] ?? (tokenArn ? await readSecret(tokenArn) : undefined);
  if (!token)
    throw new Error(`missing environment variable ${ENV.edgeControlToken} or ${ENV.edgeControlTokenArn}`);
  return { edge: createEdgeControlClient({ url, token }) };
};

export const buildHandler = (deps: () => Promise<MessageRelayDeps> = once(() => relayDepsFromEnv())) =>
  middy<unknown, RelayOutcome>().handler(async (event) => {
    const d = await deps();
    // Every log line of the batch carries its sender (the TGI, for regroup notices).
    return withLogContext({}, () => relayMessages(event, d));
  });

export const handler = buildHandler();
