/** Registration and affiliation functions, called as the SIP edge will call them. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeAffiliationPidf } from '#core/affiliation-pidf.ts';
import type { LocalSystems } from '#local/systems.ts';
import { call, demoConfig, startDemo } from '../support/local-systems.ts';

describe('Feature: functions for the SIP edge', () => {
  let local: LocalSystems;
  let api: string;
  let edge: Record<string, string>;

  beforeAll(async () => {
    const config = await demoConfig();
    local = await startDemo({ config });
    api = local.get('primary.example').url;
    edge = { authorization: `Bearer ${config.systems[0]?.edgeToken}` };
  }, 60_000);
  afterAll(async () => local?.stop());

  it('edge routes refuse callers without the edge credential (403)', async () => {
    const res = await call(api, 'GET', '/edge/credentials/alice');
    expect(res.status).toBe(403);
  });

  describe('Function: registration', () => {
    it('gives the edge the digest hashes, never a password', async () => {
      const res = await call(api, 'GET', '/edge/credentials/alice', { headers: edge });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        mcpttId: 'sip:alice@primary.example',
        username: 'alice',
        realm: 'primary.example',
      });
      expect(res.body.ha1Md5).toMatch(/^[0-9a-f]{32}$/);
      expect(res.body.ha1Sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(res.body)).not.toMatch(/alice-pass|passwordHash/);
      expect((await call(api, 'GET', '/edge/credentials/nobody', { headers: edge })).status).toBe(404);
    });

    it('binds, refreshes and unbinds contacts with expiry', async () => {
      const bind = (contact: string, expires: number) =>
        call(api, 'POST', '/edge/registrations', {
          headers: edge,
          body: { mcpttId: 'alice', contact, expires },
        });
      expect((await bind('sip:alice@127.0.0.1:6001', 600)).status).toBe(200);
      const two = await bind('sip:alice@127.0.0.1:6002', 60);
      expect(two.body.bindings).toHaveLength(2);
      const one = await bind('sip:alice@127.0.0.1:6001', 0);
      expect((one.body.bindings as { contact: string }[]).map((b) => b.contact)).toEqual([
        'sip:alice@127.0.0.1:6002',
      ]);
      const none = await bind('*', 0);
      expect(none.body.bindings).toEqual([]);
      const bad = await bind('*', 60);
      expect(bad.status).toBe(400);
      const negative = await bind('sip:alice@127.0.0.1:6001', -1);
      expect(negative.status).toBe(400);
      const unknown = await call(api, 'POST', '/edge/registrations', {
        headers: edge,
        body: { mcpttId: 'nobody', contact: 'sip:n@127.0.0.1', expires: 60 },
      });
      expect(unknown.status).toBe(404);
    });
  });

  describe('Function: affiliation', () => {
    const publish = (identity: string, xml: string, type = 'application/pidf+xml') =>
      call(api, 'POST', '/edge/affiliations', {
        raw: xml,
        headers: { ...edge, 'content-type': type, 'x-mcptt-asserted-identity': identity },
      });

    it('affiliates from the PIDF body and refuses groups the user is not part of', async () => {
      const expiresAt = Date.now() + 3600_000;
      const xml = serializeAffiliationPidf({
        entity: 'sip:alice@primary.example',
        clientId: 'client-1',
        affiliations: [
          { groupId: 'sip:fire-1@primary.example', expiresAt },
          { groupId: 'sip:police-1@primary.example', expiresAt },
          { groupId: 'sip:ambulance-1@partner.example', expiresAt },
        ],
      });
      const res = await publish('sip:alice@primary.example', xml);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const outcomes = res.body.affiliations as { groupId: string; status: string; reason?: string }[];
      expect(outcomes).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ groupId: 'sip:fire-1@primary.example', status: 'affiliated' }),
          expect.objectContaining({
            groupId: 'sip:police-1@primary.example',
            status: 'rejected',
            reason: 'user is not part of the MCPTT group',
          }),
          expect.objectContaining({ groupId: 'sip:ambulance-1@partner.example', status: 'rejected' }),
        ]),
      );
      const current = await call(api, 'GET', '/edge/affiliations/alice', { headers: edge });
      expect((current.body.affiliations as { groupId: string }[]).map((a) => a.groupId)).toEqual([
        'sip:fire-1@primary.example',
      ]);
    });

    it('de-affiliates groups absent from the full set the client publishes', async () => {
      const xml = serializeAffiliationPidf({
        entity: 'sip:alice@primary.example',
        clientId: 'client-1',
        affiliations: [],
      });
      const res = await publish('sip:alice@primary.example', xml);
      expect(res.status).toBe(200);
      expect(res.body.affiliations).toEqual([
        expect.objectContaining({ groupId: 'sip:fire-1@primary.example', status: 'deaffiliated' }),
      ]);
      const current = await call(api, 'GET', '/edge/affiliations/alice', { headers: edge });
      expect(current.body.affiliations).toEqual([]);
    });

    it('refuses to publish for someone else (403), malformed PIDF and wrong type (400)', async () => {
      const xml = serializeAffiliationPidf({
        entity: 'sip:bob@primary.example',
        clientId: 'c',
        affiliations: [],
      });
      expect((await publish('sip:alice@primary.example', xml)).status).toBe(403);
      const malformed = await publish('sip:alice@primary.example', '<presence><unclosed></presence>');
      expect(malformed.status).toBe(400);
      expect(String(malformed.body.message).length).toBeGreaterThan(5);
      expect((await publish('sip:alice@primary.example', xml, 'text/plain')).status).toBe(400);
    });
  });
});
