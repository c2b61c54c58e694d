/** Store.getUsers on dynalite: many users in one BatchGetItem per 100, unknown ids left out. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '#adapters/dynamo/store.ts';
import { startTable, type TestTable } from '../support/dynamo-table.ts';

const credentials = { realm: 'partner.example', ha1Md5: 'a', ha1Sha256: 'b', passwordHash: 'c' };

describe('Store.getUsers', () => {
  let db: TestTable;
  let store: Store;
  beforeAll(async () => {
    db = await startTable('users');
    store = new Store(db.doc, 'users');
    await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        store.createUser(
          { mcpttId: `sip:u${i}@partner.example`, displayName: `User ${i}`, roles: [] },
          credentials,
        ),
      ),
    );
  });
  afterAll(async () => db?.close());

  it('returns every known user of more than 100 ids, and leaves unknown ones out', async () => {
    const ids = [
      ...Array.from({ length: 150 }, (_, i) => `sip:u${i}@partner.example`),
      'sip:nobody@partner.example',
      'sip:u3@partner.example',
    ];
    const users = await store.getUsers(ids);
    expect(users.size).toBe(150);
    expect(users.get('sip:u149@partner.example')?.user.displayName).toBe('User 149');
    expect(users.has('sip:nobody@partner.example')).toBe(false);
    expect(await store.getUsers([])).toEqual(new Map());
  });
});
