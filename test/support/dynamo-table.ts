/** Test support: an in-memory dynalite with one table of the system's design, and a document client on it. */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '#adapters/dynamo/clients.ts';
import { ensureTable, startDynalite } from '#local/dynalite.ts';
import { createDynamoClients } from '#local/dynamo-clients.ts';

export interface TestTable {
  doc: DynamoDBDocumentClient;
  close(): Promise<void>;
}

export const startTable = async (tableName: string): Promise<TestTable> => {
  const db = await startDynalite({});
  const { client } = createDynamoClients(db.endpoint);
  await ensureTable(client, tableName);
  client.destroy();
  return { doc: createDocumentClient(db.endpoint), close: () => db.close() };
};
