/** Test support: a CallStore on an in-memory dynalite with the system's table. */
import { CallStore } from '#adapters/dynamo/call-store.ts';
import { createDocumentClient } from '#adapters/dynamo/clients.ts';
import { ensureTable, startDynalite } from '#local/dynalite.ts';
import { createDynamoClients } from '#local/dynamo-clients.ts';

export const startCallStore = async (): Promise<{ store: CallStore; close(): Promise<void> }> => {
  const db = await startDynalite({});
  const { client } = createDynamoClients(db.endpoint);
  await ensureTable(client, 'calls');
  client.destroy();
  return { store: new CallStore(createDocumentClient(db.endpoint), 'calls'), close: () => db.close() };
};
