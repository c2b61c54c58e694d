/** Group management API of one running local system: users, groups, members, agreements. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystems } from '#local/systems.ts';
import { call, enc, login, startDemo } from '../support/local-systems.ts';

describe('Feature: group management API', () => {
  let local: LocalSystems;
  let api: string;
  let admin: string;
  let dispatcher: string;

  beforeAll(async () => {
    local = await startDemo();
    api = local.get('primary.example').url;
    [admin, dispatcher] = await Promise.all([
      login(api, 'admin', 'admin-pass'),
      login(api, 'dispatcher', 'dispatcher-pass'),
    ]);
  }, 60_000);
  afterAll(async () => local?.stop());

  describe('Route: POST /auth/token', () => {
    it('issues a token with the user roles', async () => {
      const res = await call(api, 'POST', '/auth/token', {
        body: { username: 'sip:dispatcher@primary.example', password: 'dispatcher-pass' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        tokenType: 'Bearer',
        mcpttId: 'sip:dispatcher@primary.example',
        roles: ['dispatcher'],
      });
    });
    it('one 401 for a wrong password and for an unknown user', async () => {
      const wrong = await call(api, 'POST', '/auth/token', {
        body: { username: 'alice', password: 'nope-nope' },
      });
      const unknown = await call(api, 'POST', '/auth/token', {
        body: { username: 'zed', password: 'nope-nope' },
      });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body.message).toBe(unknown.body.message);
    });
    it('a token of another system is rejected', async () => {
      const partnerToken = await login(local.get('partner.example').url, 'admin', 'admin-pass');
      const res = await call(api, 'GET', '/users', { token: partnerToken });
      expect(res.status).toBe(401);
    });
    it('a garbage token is rejected', async () => {
      expect((await call(api, 'GET', '/users', { token: 'abc.def.ghi' })).status).toBe(401);
    });
  });

  describe('Resource: users', () => {
    it('creates, reads, updates and deletes a user; credentials are never returned', async () => {
      const created = await call(api, 'POST', '/users', {
        token: admin,
        body: {
          mcpttId: 'frank',
          displayName: 'Frank',
          password: 'frank-pass',
          roles: ['user'],
          organization: 'Fire service',
        },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toEqual({
        mcpttId: 'sip:frank@primary.example',
        displayName: 'Frank',
        roles: ['user'],
        organization: 'Fire service',
      });
      const read = await call(api, 'GET', `/users/${enc('sip:frank@primary.example')}`, { token: admin });
      expect(read.status).toBe(200);
      expect(JSON.stringify(read.body)).not.toMatch(/credentials|ha1|password/i);
      const dup = await call(api, 'POST', '/users', {
        token: admin,
        body: { mcpttId: 'frank', displayName: 'F', password: 'frank-pass' },
      });
      expect(dup.status).toBe(409);
      const updated = await call(api, 'PUT', '/users/frank', {
        token: admin,
        body: { displayName: 'Frank F.', password: 'frank-pass-2' },
      });
      expect(updated.status).toBe(200);
      expect(updated.body.displayName).toBe('Frank F.');
      await login(api, 'frank', 'frank-pass-2');
      expect((await call(api, 'DELETE', '/users/frank', { token: admin })).status).toBe(204);
      expect((await call(api, 'GET', '/users/frank', { token: admin })).status).toBe(404);
      expect((await call(api, 'DELETE', '/users/frank', { token: admin })).status).toBe(404);
    });
    it('400 for invalid input with the offending field named', async () => {
      const cases: [unknown, RegExp][] = [
        [{ mcpttId: 'g', displayName: 'G', password: 'short' }, /password/],
        [{ mcpttId: 'g', displayName: 'G', password: 'long-enough', roles: ['king'] }, /roles/],
        [
          { mcpttId: 'g@partner.example', displayName: 'G', password: 'long-enough' },
          /not a user of primary.example/,
        ],
        [{ mcpttId: 'g h', displayName: 'G', password: 'long-enough' }, /g h/],
        [{ displayName: 'G', password: 'long-enough' }, /mcpttId/],
      ];
      for (const [body, message] of cases) {
        const res = await call(api, 'POST', '/users', { token: admin, body });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(String(res.body.message)).toMatch(message);
      }
    });
    it('403 for a dispatcher on an admin route', async () => {
      const res = await call(api, 'POST', '/users', {
        token: dispatcher,
        body: { mcpttId: 'h', displayName: 'H', password: 'long-enough' },
      });
      expect(res.status).toBe(403);
    });
    it('refuses to delete a user who is still a member of a group (409)', async () => {
      const res = await call(api, 'DELETE', '/users/alice', { token: admin });
      expect(res.status).toBe(409);
      expect(res.body.message).toMatch(/fire-1/);
    });
  });

  describe('Resource: groups and members', () => {
    it('creates a group with policies and members, edits members, deletes it', async () => {
      const created = await call(api, 'POST', '/groups', {
        token: admin,
        body: {
          groupId: 'rescue-1',
          displayName: 'Rescue 1',
          policy: { minimumNumberToStart: 2, actionOnExpiry: 'abandon' },
          members: [{ mcpttId: 'alice', required: true }, { mcpttId: 'bob' }],
        },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body.policy).toMatchObject({ minimumNumberToStart: 2, actionOnExpiry: 'abandon' });
      const members = await call(api, 'GET', '/groups/rescue-1/members', { token: dispatcher });
      expect(members.body.members).toEqual(
        expect.arrayContaining([
          { mcpttId: 'sip:alice@primary.example', required: true },
          { mcpttId: 'sip:bob@primary.example', required: false },
        ]),
      );
      expect(
        (await call(api, 'PUT', '/groups/rescue-1/members/bob', { token: admin, body: { required: true } }))
          .status,
      ).toBe(200);
      expect((await call(api, 'DELETE', '/groups/rescue-1/members/alice', { token: admin })).status).toBe(
        204,
      );
      const after = await call(api, 'GET', '/groups/rescue-1', { token: admin });
      expect(after.body.members).toEqual([{ mcpttId: 'sip:bob@primary.example', required: true }]);
      const updated = await call(api, 'PUT', '/groups/rescue-1', {
        token: admin,
        body: { policy: { priority: 9 } },
      });
      expect(updated.body.policy).toMatchObject({ priority: 9, minimumNumberToStart: 2 });
      expect((await call(api, 'DELETE', '/groups/rescue-1', { token: admin })).status).toBe(204);
      expect((await call(api, 'GET', '/groups/rescue-1', { token: admin })).status).toBe(404);
      const user = await call(api, 'GET', '/users/bob', { token: admin });
      expect(user.body.groups).toEqual(['sip:police-1@primary.example']);
    });
    it('404 for an unknown member, 409 for a duplicate group, 400 for a bad policy', async () => {
      const unknownMember = await call(api, 'POST', '/groups', {
        token: admin,
        body: { groupId: 'g-x', displayName: 'X', members: [{ mcpttId: 'nobody' }] },
      });
      expect(unknownMember.status).toBe(404);
      expect(unknownMember.body.message).toMatch(/nobody/);
      expect((await call(api, 'GET', '/groups/g-x', { token: admin })).status).toBe(404);
      const dup = await call(api, 'POST', '/groups', {
        token: admin,
        body: { groupId: 'fire-1', displayName: 'again' },
      });
      expect(dup.status).toBe(409);
      const badPolicy = await call(api, 'POST', '/groups', {
        token: admin,
        body: { groupId: 'g-y', displayName: 'Y', policy: { actionOnExpiry: 'explode' } },
      });
      expect(badPolicy.status).toBe(400);
      expect(badPolicy.body.message).toMatch(/policy.actionOnExpiry/);
    });
  });

  describe('Resource: agreements', () => {
    it('never returns the key; validates input; 409 on duplicates', async () => {
      const list = await call<{ agreements: Record<string, unknown>[] }>(api, 'GET', '/agreements', {
        token: admin,
      });
      expect(list.status).toBe(200);
      expect(list.body.agreements[0]).toMatchObject({ partner: 'partner.example', key: 'redacted' });
      const body = {
        partner: 'coast.example',
        apiUrl: 'https://api.coast.example',
        sipUri: 'sip:edge.coast.example',
        keyId: 'k-1',
        key: 'C'.repeat(43),
        sharedUserFields: ['displayName'],
        regroupableGroups: ['fire-1'],
      };
      const created = await call(api, 'POST', '/agreements', { token: admin, body });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({
        key: 'redacted',
        regroupableGroups: ['sip:fire-1@primary.example'],
      });
      expect((await call(api, 'POST', '/agreements', { token: admin, body })).status).toBe(409);
      const bad = await call(api, 'POST', '/agreements', {
        token: admin,
        body: { ...body, partner: 'x.example', key: 'short', sharedUserFields: ['roles'] },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/key/);
      expect(bad.body.message).toMatch(/sharedUserFields/);
      expect((await call(api, 'GET', '/agreements', { token: dispatcher })).status).toBe(403);
      expect((await call(api, 'DELETE', '/agreements/coast.example', { token: admin })).status).toBe(204);
    });
  });

  it('404 with a message for unknown routes', async () => {
    const res = await call(api, 'GET', '/nowhere', { token: admin });
    expect(res.status).toBe(404);
  });
});
