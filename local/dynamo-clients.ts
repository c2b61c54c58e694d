/** DynamoDB clients for a local endpoint (dynalite). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** A low-level client and a document client sharing it. */
export interface LocalDynamoClients {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
}

/**
 * Creates clients for a local DynamoDB endpoint: region `local`, static dummy credentials (never
 * the machine's AWS profile), 3 attempts; the document client drops `undefined` values and does
 * not marshal class instances. Call `client.destroy()` when done to free keep-alive sockets.
 *
 * @param endpoint - e.g. the `endpoint` of `startDynalite()`.
 */
export function createDynamoClients(endpoint: string): LocalDynamoClients {
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return { client, doc };
}
