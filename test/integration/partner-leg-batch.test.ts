/**
 * The legs a partner invited, authorized together on dynalite (functions/call-routing/
 * authorize-partner-leg.ts, Store.recordCallNonces): what a batch costs in DynamoDB requests, counted by
 * a middleware on the store's client, and the replay protection of the per-call nonce item.
 */
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { createDocumentClient } from '#adapters/dynamo/clients.ts';
import { keys } from '#adapters/dynamo/keys.ts';
import { Store } from '#adapters/dynamo/store.ts';
import { legSignatureParts } from '#core/partner-leg.ts';
import { signRequest } from '#core/request-signing.ts';
import { authorizePartnerLegs, type PartnerLeg } from '#functions/call-routing/authorize-partner-leg.ts';
import type { AppDeps } from '#functions/shared/deps.ts';
import { SIGNATURE_MAX_SKEW_MS } from '#functions/shared/partner-auth.ts';
import { startTable, type TestTable } from '../support/dynamo-table.ts';
import { PRIMARY_AGREEMENT } from '../support/partner-agreement.ts';

const TABLE = 'partner-legs';
const NOW = Date.now();
const TGI = 'sip:tg-9@primary.example';
const agreement = PRIMARY_AGREEMENT;
const members = Array.from({ length: 50 }, (_, i) => `sip:m${i}@partner.example`);

const legOf = (member: string, callId: string, at = NOW): PartnerLeg => ({
  target: member,
  tgi: TGI,
  headers: Object.fromEntries(
    Object.entries({
      ...signRequest({
        ...legSignatureParts({ member, tgi: TGI, callId }),
        sender: 'primary.example',
        target: 'partner.example',
        keyId: agreement.keyId,
        key: agreement.key,
        now: at,
      }),
      'X-MCPTT-Call': callId,
    }).map(([k, v]) => [k.toLowerCase(), v]),
  ),
});

describe('Partner legs in a batch, on dynalite', () => {
  let db: TestTable;
  let store: Store;
  let doc: ReturnType<typeof createDocumentClient>;
  /** The requests the store sent: command and key. */
  let sent: { command: string; pk: string }[] = [];
  const deps = (now = NOW) => ({ system: 'partner.example', now: () => now, store }) as unknown as AppDeps;
  const nonceItem = async (callId: string) =>
    (await doc.send(new GetCommand({ TableName: TABLE, Key: keys.callNonces('primary.example', callId) })))
      .Item;

  beforeAll(async () => {
    db = await startTable(TABLE);
    doc = db.doc;
    store = new Store(doc, TABLE);
    await store.putAgreement(agreement);
    await store.putCallPass({
      tgi: TGI,
      callId: 'call-1',
      members: Object.fromEntries(members.map((m, i) => [m, [`sip:m${i}@127.0.0.1:${8000 + i}`]])),
      expiresAt: NOW + 60_000,
    });
    await store.putUser(
      { mcpttId: 'sip:carol@partner.example', displayName: 'Carol', roles: [] },
      { realm: 'partner.example', ha1Md5: 'a', ha1Sha256: 'b', passwordHash: 'c' },
    );
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: { pk?: string }; KeyConditionExpression?: string };
        sent.push({ command: context.commandName as string, pk: input.Key?.pk ?? '' });
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
  });
  afterAll(async () => db?.close());
  beforeEach(() => {
    sent = [];
  });

  it('50 legs of one call cost one pass read and one nonce write (and one agreement read)', async () => {
    const routes = await authorizePartnerLegs(
      members.map((m) => legOf(m, 'call-1')),
      deps(),
    );
    expect(routes).toEqual(
      members.map((_, i) => ({ action: 'relay', targets: [{ contact: `sip:m${i}@127.0.0.1:${8000 + i}` }] })),
    );
    expect(sent.filter((r) => r.pk.startsWith('CALLPASS#'))).toEqual([
      { command: 'GetItemCommand', pk: `CALLPASS#${TGI}` },
    ]);
    expect(sent.filter((r) => r.pk.startsWith('NONCE'))).toEqual([
      { command: 'UpdateItemCommand', pk: 'NONCES#primary.example#call-1' },
    ]);
    expect(sent).toHaveLength(3);
    expect((await nonceItem('call-1'))?.nonces.size).toBe(50);
  });

  it('refuses a leg replayed in a later batch, and the second of two legs with the same nonce in a batch', async () => {
    const first = legOf(members[0] as string, 'call-1');
    const other = legOf(members[1] as string, 'call-1');
    expect((await authorizePartnerLegs([first], deps())).map((r) => r.action)).toEqual(['relay']);
    const routes = await authorizePartnerLegs([other, first, other], deps(NOW + 1000));
    expect(routes).toMatchObject([
      { action: 'relay' },
      { action: 'reject', status: 403, warning: 'replayed partner leg' },
      { action: 'reject', status: 403, warning: 'replayed partner leg' },
    ]);
  });

  it('a leg naming a call without a pass records its nonce in the call item and is checked from the store', async () => {
    const leg = legOf('sip:carol@partner.example', 'call-none');
    // carol is ours but in no group regrouped into the TGI: the store says so.
    expect(await authorizePartnerLegs([leg], deps())).toMatchObject([
      { action: 'reject', status: 403, warningCode: 116 },
    ]);
    expect(sent.map((r) => r.command)).toContain('QueryCommand');
    expect(sent.filter((r) => r.command === 'PutItemCommand')).toEqual([]);
    const item = await nonceItem('call-none');
    expect(item?.nonces).toEqual(new Set([leg.headers['x-mcptt-nonce']]));
    expect(item?.expiresAt).toBe(NOW + SIGNATURE_MAX_SKEW_MS + 1);
    expect(await authorizePartnerLegs([leg], deps(NOW + 1000))).toMatchObject([
      { action: 'reject', status: 403, warning: 'replayed partner leg' },
    ]);
  });

  describe('Store.recordCallNonces', () => {
    it('returns the nonces recorded before; the item expiry is raised, never shortened', async () => {
      expect(await store.recordCallNonces('p.example', 'c1', ['a', 'b'], NOW + 1000)).toEqual(new Set());
      expect(await store.recordCallNonces('p.example', 'c1', ['c', 'a'], NOW + 3000)).toEqual(new Set(['a']));
      const key = keys.callNonces('p.example', 'c1');
      const get = async () => (await doc.send(new GetCommand({ TableName: TABLE, Key: key }))).Item;
      expect(await get()).toMatchObject({ expiresAt: NOW + 3000, ttl: Math.ceil((NOW + 3000) / 1000) });
      // An earlier expiry (a leg signed before, answered later): its nonce is recorded, the expiry kept.
      expect(await store.recordCallNonces('p.example', 'c1', ['d', 'b'], NOW + 2000)).toEqual(new Set(['b']));
      expect(await get()).toMatchObject({
        nonces: new Set(['a', 'b', 'c', 'd']),
        expiresAt: NOW + 3000,
        ttl: Math.ceil((NOW + 3000) / 1000),
      });
      expect(await store.recordCallNonces('p.example', 'c1', ['d'], NOW + 2000)).toEqual(new Set(['d']));
      expect(await store.recordCallNonces('p.example', 'c1', [], NOW)).toEqual(new Set());
    });

    it('creates the item again, with its expiry, when TTL deleted it between the two forms of the write', async () => {
      const key = keys.callNonces('p.example', 'c2');
      await store.recordCallNonces('p.example', 'c2', ['a'], NOW + 5000);
      // TTL deletes the item just before the write that adds without raising.
      doc.middlewareStack.add(
        (next) => async (args) => {
          const input = args.input as { Key?: { pk?: string }; UpdateExpression?: string };
          if (input.Key?.pk === key.pk && input.UpdateExpression === 'ADD #nonces :nonces')
            await doc.send(new DeleteCommand({ TableName: TABLE, Key: key }));
          return next(args);
        },
        { step: 'initialize', name: 'ttlDeletes' },
      );
      try {
        expect(await store.recordCallNonces('p.example', 'c2', ['b'], NOW + 1000)).toEqual(new Set());
      } finally {
        doc.middlewareStack.remove('ttlDeletes');
      }
      expect((await doc.send(new GetCommand({ TableName: TABLE, Key: key }))).Item).toMatchObject({
        nonces: new Set(['b']),
        expiresAt: NOW + 1000,
      });
    });
  });
});
