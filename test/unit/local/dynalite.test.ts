import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INDEXES } from '#adapters/dynamo/table-design.ts';
import { ensureTable, type LocalDynalite, startDynalite } from '#local/dynalite.ts';
import { createDynamoClients, type LocalDynamoClients } from '#local/dynamo-clients.ts';

const TABLE = 'mcptt-test';

describe.each([
  ['on the event loop', false],
  ['in a worker thread', true],
])('dynalite in memory, %s', (_, thread) => {
  let db: LocalDynalite;
  let clients: LocalDynamoClients;

  beforeAll(async () => {
    db = await startDynalite({ thread });
    clients = createDynamoClients(db.endpoint);
    await ensureTable(clients.client, TABLE);
  });
  afterAll(async () => {
    clients?.client.destroy();
    await db?.close();
  });

  it('listens on 127.0.0.1', () => {
    expect(db.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('ensureTable creates the designed table and is idempotent', async () => {
    await ensureTable(clients.client, TABLE);
    await Promise.all([ensureTable(clients.client, TABLE), ensureTable(clients.client, TABLE)]);
    const { TableNames } = await clients.client.send(new ListTablesCommand({}));
    expect(TableNames).toEqual([TABLE]);
    const { Table } = await clients.client.send(new DescribeTableCommand({ TableName: TABLE }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(
      Table?.GlobalSecondaryIndexes?.map((g) => [g.IndexName, g.Projection?.ProjectionType]).sort(),
    ).toEqual([
      ['gsi1', 'ALL'],
      ['gsi2', 'ALL'],
    ]);
  });

  it('ensureTable tolerates concurrent creation of a new table', async () => {
    await Promise.all([ensureTable(clients.client, 'racy'), ensureTable(clients.client, 'racy')]);
    const { Table } = await clients.client.send(new DescribeTableCommand({ TableName: 'racy' }));
    expect(Table?.TableStatus).toBe('ACTIVE');
  });

  it('survives a client aborting mid-request (plain dynalite would throw an uncaught error)', async () => {
    const { port } = new URL(db.endpoint);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789');
    await new Promise((resolve) => setTimeout(resolve, 30));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect((await clients.client.send(new ListTablesCommand({}))).TableNames).toContain(TABLE);
  });

  // What the store relies on, checked against dynalite.
  it('supports ConditionExpression attribute_not_exists', async () => {
    const put = () =>
      clients.doc.send(
        new PutCommand({
          TableName: TABLE,
          Item: { pk: 'USER#u1', sk: 'PROFILE', name: 'one' },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await put();
    await expect(put()).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
  });

  it('supports UpdateItem ADD', async () => {
    const add = () =>
      clients.doc.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: { pk: 'COUNTER', sk: 'META' },
          UpdateExpression: 'ADD #n :one',
          ExpressionAttributeNames: { '#n': 'n' },
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
    await add();
    expect((await add()).Attributes).toEqual({ n: 2 });
  });

  it('supports Query on both GSIs', async () => {
    await clients.doc.send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: 'GROUP#g1', sk: 'MEMBER#u1', gsi1pk: 'USER#u1', gsi1sk: 'MEMBER#g1' },
      }),
    );
    await clients.doc.send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: 'GROUP#g1', sk: 'META', gsi2pk: 'TYPE#group', gsi2sk: 'g1' },
      }),
    );
    const byUser = await clients.doc.send(
      new QueryCommand({
        TableName: TABLE,
        IndexName: INDEXES.byUser.name,
        KeyConditionExpression: 'gsi1pk = :u AND begins_with(gsi1sk, :m)',
        ExpressionAttributeValues: { ':u': 'USER#u1', ':m': 'MEMBER#' },
      }),
    );
    expect(byUser.Items?.map((i) => i.sk)).toEqual(['MEMBER#u1']);
    const byType = await clients.doc.send(
      new QueryCommand({
        TableName: TABLE,
        IndexName: INDEXES.byType.name,
        KeyConditionExpression: 'gsi2pk = :t',
        ExpressionAttributeValues: { ':t': 'TYPE#group' },
      }),
    );
    expect(byType.Items?.map((i) => i.pk)).toEqual(['GROUP#g1']);
  });

  it('accepts ReturnValuesOnConditionCheckFailure but returns no Item (dynalite quirk)', async () => {
    const err = await clients.doc
      .send(
        new PutCommand({
          TableName: TABLE,
          Item: { pk: 'USER#u1', sk: 'PROFILE', name: 'other' },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ConditionalCheckFailedException' });
    expect((err as { Item?: unknown }).Item).toBeUndefined();
  });
});

describe('dynalite on disk', () => {
  let dir: string;
  let db: LocalDynalite | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcptt-dynalite-'));
  });
  afterAll(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the folder and keeps data across a restart on the same path', async () => {
    const path = join(dir, 'nested', 'data');
    db = await startDynalite({ path });
    let clients = createDynamoClients(db.endpoint);
    await ensureTable(clients.client, TABLE);
    await clients.doc.send(
      new PutCommand({ TableName: TABLE, Item: { pk: 'USER#u1', sk: 'PROFILE', name: 'kept' } }),
    );
    clients.client.destroy();
    await db.close();

    db = await startDynalite({ path });
    clients = createDynamoClients(db.endpoint);
    await ensureTable(clients.client, TABLE);
    const { Item } = await clients.doc.send(
      new GetCommand({ TableName: TABLE, Key: { pk: 'USER#u1', sk: 'PROFILE' } }),
    );
    expect(Item).toEqual({ pk: 'USER#u1', sk: 'PROFILE', name: 'kept' });
    clients.client.destroy();
  });

  it('refuses a data folder another instance holds open', async () => {
    await expect(startDynalite({ path: join(dir, 'nested', 'data') })).rejects.toThrow(
      /cannot open the dynalite data folder/,
    );
  });
});
