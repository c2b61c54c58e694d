/** Test support: a CallStore on an in-memory dynalite with the system's table. */
import { CallStore } from '#adapters/dynamo/call-store.ts';
import { startTable } from './dynamo-table.ts';

export const startCallStore = async (): Promise<{ store: CallStore; close(): Promise<void> }> => {
  const table = await startTable('calls');
  return { store: new CallStore(table.doc, 'calls'), close: () => table.close() };
};
