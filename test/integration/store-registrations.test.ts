/**
 * Store registrations on dynalite (decision 0014): every binding of a user in one item, written by
 * read-modify-write under optimistic locking, read one user at a time or 100 users per BatchGetItem.
 */
import { BatchGetCommand, type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys, ttlOf } from '#adapters/dynamo/keys.ts';
import { Store } from '#adapters/dynamo/store.ts';
import type { Registration } from '#core/model.ts';
import { startTable, type TestTable } from '../support/dynamo-table.ts';

const TABLE = 'registrations';
const NOW = 1_800_000_000_000;
const MINUTE = 60_000;

/** The document client, with a hook run before each command is sent. */
const hooked = (
  doc: DynamoDBDocumentClient,
  before: (command: unknown) => Promise<void> | void,
): DynamoDBDocumentClient =>
  ({
    send: async (command: unknown) => {
      await before(command);
      return doc.send(command as never);
    },
  }) as unknown as DynamoDBDocumentClient;

describe('Store registrations', () => {
  let db: TestTable;
  let doc: DynamoDBDocumentClient;
  let store: Store;
  let n = 0;
  /** A user of its own for each test. */
  const user = () => `sip:user${++n}@primary.example`;
  const binding = (mcpttId: string, port: number, expiresAt: number, clientId?: string): Registration => ({
    mcpttId,
    contact: `sip:u@127.0.0.1:${port}`,
    expiresAt,
    ...(clientId ? { clientId } : {}),
  });
  const rawItem = async (mcpttId: string) =>
    (
      await doc.send(
        new GetCommand({ TableName: TABLE, Key: keys.registrations(mcpttId), ConsistentRead: true }),
      )
    ).Item;

  beforeAll(async () => {
    db = await startTable(TABLE);
    doc = db.doc;
    store = new Store(doc, TABLE);
  });
  afterAll(async () => db?.close());

  it('keeps two contacts of one user in one item, with version and the ttl of the latest binding', async () => {
    const id = user();
    const a = binding(id, 6001, NOW + 10 * MINUTE, 'client-a');
    const b = binding(id, 6002, NOW + 5 * MINUTE);
    await store.putRegistration(a, NOW);
    await store.putRegistration(b, NOW);
    expect(await store.listRegistrations(id, NOW)).toEqual([a, b]);
    const item = await rawItem(id);
    expect(item).toMatchObject({
      pk: `USER#${id}`,
      sk: 'REGS',
      type: 'registrations',
      version: 2,
      ttl: ttlOf(NOW + 10 * MINUTE),
    });
    expect(Object.keys(item?.bindings ?? {}).sort()).toEqual([a.contact, b.contact]);
  });

  it('refreshes a binding in place', async () => {
    const id = user();
    await store.putRegistration(binding(id, 6001, NOW + MINUTE), NOW);
    await store.putRegistration(binding(id, 6002, NOW + MINUTE), NOW);
    const refreshed = binding(id, 6001, NOW + 30 * MINUTE, 'client-a');
    await store.putRegistration(refreshed, NOW + 30_000);
    expect(await store.listRegistrations(id, NOW + 30_000)).toEqual([
      refreshed,
      binding(id, 6002, NOW + MINUTE),
    ]);
    expect(await rawItem(id)).toMatchObject({ version: 3, ttl: ttlOf(NOW + 30 * MINUTE) });
  });

  it('deletes one binding and keeps the other; the last one takes the item with it', async () => {
    const id = user();
    await store.putRegistration(binding(id, 6001, NOW + MINUTE), NOW);
    await store.putRegistration(binding(id, 6002, NOW + MINUTE), NOW);
    await store.deleteRegistration(id, binding(id, 6001, 0).contact, NOW);
    expect(await store.listRegistrations(id, NOW)).toEqual([binding(id, 6002, NOW + MINUTE)]);
    // A contact that is not bound changes nothing (no write).
    await store.deleteRegistration(id, 'sip:u@127.0.0.1:9999', NOW);
    expect(await rawItem(id)).toMatchObject({ version: 3 });
    await store.deleteRegistration(id, binding(id, 6002, 0).contact, NOW);
    expect(await store.listRegistrations(id, NOW)).toEqual([]);
    expect(await rawItem(id)).toBeUndefined();
    // Nor does deleting for a user with no item create one.
    await store.deleteRegistration(id, binding(id, 6002, 0).contact, NOW);
    expect(await rawItem(id)).toBeUndefined();
  });

  it('drops expired bindings: on every read, and from the item on the next write', async () => {
    const id = user();
    const short = binding(id, 6001, NOW + MINUTE);
    const long = binding(id, 6002, NOW + 10 * MINUTE);
    await store.putRegistration(short, NOW);
    await store.putRegistration(long, NOW);
    const later = NOW + 2 * MINUTE;
    expect(await store.listRegistrations(id, later)).toEqual([long]);
    expect((await store.registrationsOf([id], later)).get(id)).toEqual([long]);
    expect(await store.listRegistrations(id, NOW + 11 * MINUTE)).toEqual([]);
    const third = binding(id, 6003, later + MINUTE);
    await store.putRegistration(third, later);
    expect(Object.keys((await rawItem(id))?.bindings ?? {}).sort()).toEqual([long.contact, third.contact]);
    // Deleting the one live binding deletes the item, even though an expired one was still stored.
    const id2 = user();
    await store.putRegistration(binding(id2, 6001, NOW + MINUTE), NOW);
    await store.putRegistration(binding(id2, 6002, NOW + 10 * MINUTE), NOW);
    await store.deleteRegistration(id2, binding(id2, 6002, 0).contact, later);
    expect(await rawItem(id2)).toBeUndefined();
  });

  it('reads the registrations of more than 100 users in batches; users with none map to []', async () => {
    const ids = Array.from({ length: 230 }, () => user());
    const registered = ids.filter((_, i) => i % 3 !== 0);
    await Promise.all(
      registered.map(async (id, i) => {
        await store.putRegistration(binding(id, 6001, NOW + MINUTE), NOW);
        if (i % 2 === 0) await store.putRegistration(binding(id, 6002, NOW + 2 * MINUTE), NOW);
      }),
    );
    let batches = 0;
    const counting = new Store(
      hooked(doc, (c) => {
        if (c instanceof BatchGetCommand) batches++;
      }),
      TABLE,
    );
    const asked = [...ids, ids[5] as string, 'sip:nobody@primary.example'];
    const found = await counting.registrationsOf(asked, NOW);
    expect(batches).toBe(3);
    expect(found.size).toBe(231);
    expect(found.get('sip:nobody@primary.example')).toEqual([]);
    registered.forEach((id, i) => {
      expect(found.get(id)?.map((r) => r.contact)).toEqual(
        i % 2 === 0 ? ['sip:u@127.0.0.1:6001', 'sip:u@127.0.0.1:6002'] : ['sip:u@127.0.0.1:6001'],
      );
    });
    for (const id of ids.filter((_, i) => i % 3 === 0)) expect(found.get(id)).toEqual([]);
    expect(await store.registrationsOf([], NOW)).toEqual(new Map());
  });

  it('concurrent REGISTERs of two contacts of one user both survive (optimistic lock)', async () => {
    const id = user();
    // Hold the first two reads of the item until both are in: both writers start from the same
    // (empty) state, so without the lock the second write would silently drop the first binding.
    let waiting: (() => void)[] = [];
    let reads = 0;
    const racing = new Store(
      hooked(doc, async (c) => {
        if (c instanceof GetCommand && reads < 2) {
          reads++;
          await new Promise<void>((resolve) => {
            waiting.push(resolve);
            if (waiting.length === 2) {
              for (const w of waiting) w();
              waiting = [];
            }
          });
        }
      }),
      TABLE,
    );
    const a = binding(id, 6001, NOW + MINUTE);
    const b = binding(id, 6002, NOW + 2 * MINUTE);
    await Promise.all([racing.putRegistration(a, NOW), racing.putRegistration(b, NOW)]);
    expect(reads).toBe(2);
    expect(await store.listRegistrations(id, NOW)).toEqual([a, b]);
    expect(await rawItem(id)).toMatchObject({ version: 2 });

    // And many at once, refreshes and removals mixed in.
    const id2 = user();
    await store.putRegistration(binding(id2, 7000, NOW + MINUTE), NOW);
    await Promise.all([
      ...[7001, 7002, 7003].map((port) => store.putRegistration(binding(id2, port, NOW + MINUTE), NOW)),
      store.deleteRegistration(id2, binding(id2, 7000, 0).contact, NOW),
    ]);
    expect((await store.listRegistrations(id2, NOW)).map((r) => r.contact)).toEqual([
      'sip:u@127.0.0.1:7001',
      'sip:u@127.0.0.1:7002',
      'sip:u@127.0.0.1:7003',
    ]);
  });
});

describe('Store registrations: retries (fake client)', () => {
  it('asks again for the keys BatchGetItem leaves unprocessed', async () => {
    const id = 'sip:alice@primary.example';
    const item = {
      ...keys.registrations(id),
      bindings: { 'sip:a@1': { contact: 'sip:a@1', expiresAt: NOW + MINUTE } },
    };
    const requests: unknown[][] = [];
    const doc = {
      send: async (c: BatchGetCommand) => {
        const asked = c.input.RequestItems?.t?.Keys ?? [];
        requests.push(asked);
        return requests.length === 1
          ? { Responses: { t: [] }, UnprocessedKeys: { t: { Keys: asked } } }
          : { Responses: { t: [item] } };
      },
    } as unknown as DynamoDBDocumentClient;
    const found = await new Store(doc, 't').registrationsOf([id, 'sip:bob@primary.example'], NOW);
    expect(requests).toHaveLength(2);
    expect(found.get(id)).toEqual([{ mcpttId: id, contact: 'sip:a@1', expiresAt: NOW + MINUTE }]);
    expect(found.get('sip:bob@primary.example')).toEqual([]);
  });

  it('gives up with an error when every write loses the race', async () => {
    let puts = 0;
    const doc = {
      send: async (c: unknown) => {
        if (c instanceof GetCommand)
          return { Item: { ...keys.registrations('sip:a@x'), version: 7, bindings: {} } };
        puts++;
        throw Object.assign(new Error('conditional request failed'), {
          name: 'ConditionalCheckFailedException',
        });
      },
    } as unknown as DynamoDBDocumentClient;
    await expect(
      new Store(doc, 't').putRegistration(
        { mcpttId: 'sip:a@x', contact: 'sip:a@1', expiresAt: NOW + MINUTE },
        NOW,
      ),
    ).rejects.toThrow(/contended/);
    expect(puts).toBe(5);
  });
});
