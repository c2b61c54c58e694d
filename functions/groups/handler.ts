// functions/groups/handler.ts — group management: groups, their TS 24.481 call policies, members.
import { z } from 'zod';
import { assertAdmin, assertMayRegroup } from '#core/authorization.ts';
import { callPolicySchema, resolveCallPolicy } from '#core/call-policy.ts';
import { badRequest, conflict, notFound } from '#core/errors.ts';
import { domainOf, normalizeSipUri } from '#core/ids.ts';
import { localIdentity } from '#core/local-id.ts';
import type { Group, SipUri } from '#core/model.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';

const Member = z.strictObject({ mcpttId: z.string().min(1).max(256), required: z.boolean().optional() });
const CreateGroup = z.strictObject({
  groupId: z.string().min(1).max(256),
  displayName: z.string().min(1).max(128),
  policy: callPolicySchema.optional(),
  members: z.array(Member).max(5000).optional(),
});
const UpdateGroup = z.strictObject({
  displayName: z.string().min(1).max(128).optional(),
  policy: callPolicySchema.optional(),
});
const PutMember = z.strictObject({ required: z.boolean().optional() });

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'GET /groups': async ({ principal, deps }) => {
        assertMayRegroup(await principal());
        const now = deps.now();
        const [groups, markers] = await Promise.all([deps.store.listGroups(), deps.store.listMarkers(now)]);
        const byGroup = new Map(markers.map((m) => [m.groupId, m]));
        return {
          status: 200,
          body: { groups: groups.map((g) => ({ ...g, regroupedInto: byGroup.get(g.groupId) })) },
        };
      },
      'POST /groups': async ({ principal, body, deps }) => {
        assertAdmin(await principal());
        const input = body(CreateGroup);
        const groupId = localIdentity(input.groupId, deps.system, 'group');
        const members = (input.members ?? []).map((m) => ({
          mcpttId: normalizeSipUri(m.mcpttId, deps.system),
          required: m.required ?? false,
        }));
        const ids = members.map((m) => m.mcpttId);
        if (new Set(ids).size !== ids.length) throw badRequest('members lists a user more than once');
        await assertUsersExist(deps, ids);
        const group: Group = {
          groupId,
          displayName: input.displayName,
          policy: resolveCallPolicy(input.policy),
        };
        if (!(await deps.store.createGroup(group))) throw conflict(`group ${groupId} already exists`);
        await Promise.all(members.map((m) => deps.store.putMember(groupId, m)));
        return {
          status: 201,
          body: { ...group, members },
          headers: { location: `/groups/${encodeURIComponent(groupId)}` },
        };
      },
      'GET /groups/{groupId}': async ({ principal, param, deps }) => {
        assertMayRegroup(await principal());
        const groupId = normalizeSipUri(param('groupId'), deps.system);
        const [group, members, marker] = await Promise.all([
          deps.store.getGroup(groupId),
          deps.store.listMembers(groupId),
          deps.store.getMarker(groupId, deps.now()),
        ]);
        if (!group) throw notFound(`no group ${groupId}`);
        return { status: 200, body: { ...group, members, regroupedInto: marker } };
      },
      'PUT /groups/{groupId}': async ({ principal, param, body, deps }) => {
        assertAdmin(await principal());
        const groupId = localIdentity(param('groupId'), deps.system, 'group');
        const input = body(UpdateGroup);
        const group = await deps.store.getGroup(groupId);
        if (!group) throw notFound(`no group ${groupId}`);
        const updated: Group = {
          ...group,
          displayName: input.displayName ?? group.displayName,
          policy: resolveCallPolicy(input.policy, group.policy),
        };
        if (!(await deps.store.replaceGroup(updated))) throw notFound(`no group ${groupId}`);
        return { status: 200, body: updated };
      },
      'DELETE /groups/{groupId}': async ({ principal, param, deps }) => {
        assertAdmin(await principal());
        const groupId = localIdentity(param('groupId'), deps.system, 'group');
        const marker = await deps.store.getMarker(groupId, deps.now());
        if (marker)
          throw conflict(`group ${groupId} is regrouped into ${marker.tgi}; cancel that regroup first`);
        if (!(await deps.store.getGroup(groupId))) throw notFound(`no group ${groupId}`);
        // Members first: a half-done delete leaves a group with fewer members, never orphans.
        const members = await deps.store.listMembers(groupId);
        await Promise.all(members.map((m) => deps.store.deleteMember(groupId, m.mcpttId)));
        await deps.store.deleteGroup(groupId);
        return { status: 204 };
      },
      'GET /groups/{groupId}/members': async ({ principal, param, deps }) => {
        assertMayRegroup(await principal());
        const groupId = normalizeSipUri(param('groupId'), deps.system);
        if (!(await deps.store.getGroup(groupId))) throw notFound(`no group ${groupId}`);
        return { status: 200, body: { groupId, members: await deps.store.listMembers(groupId) } };
      },
      'PUT /groups/{groupId}/members/{mcpttId}': async ({ principal, param, body, deps }) => {
        assertAdmin(await principal());
        const groupId = localIdentity(param('groupId'), deps.system, 'group');
        const mcpttId = normalizeSipUri(param('mcpttId'), deps.system);
        const input = body(PutMember);
        if (!(await deps.store.getGroup(groupId))) throw notFound(`no group ${groupId}`);
        await assertUsersExist(deps, [mcpttId]);
        const member = { mcpttId, required: input.required ?? false };
        await deps.store.putMember(groupId, member);
        return { status: 200, body: { groupId, ...member } };
      },
      'DELETE /groups/{groupId}/members/{mcpttId}': async ({ principal, param, deps }) => {
        assertAdmin(await principal());
        const groupId = localIdentity(param('groupId'), deps.system, 'group');
        const mcpttId = normalizeSipUri(param('mcpttId'), deps.system);
        if (!(await deps.store.deleteMember(groupId, mcpttId))) {
          throw notFound(`${mcpttId} is not a member of ${groupId}`);
        }
        return { status: 204 };
      },
    },
    deps,
  );

/** Members must be users of this system (partner users belong to partner groups). */
const assertUsersExist = async (deps: AppDeps, ids: SipUri[]): Promise<void> => {
  for (const id of ids) {
    if (domainOf(id) !== deps.system) throw badRequest(`${id} is not a user of ${deps.system}`);
  }
  const found = await Promise.all(ids.map((id) => deps.store.getUser(id)));
  const missing = ids.filter((_, i) => !found[i]);
  if (missing.length > 0) throw notFound(`no user ${missing.join(', ')}`, { missing });
};

export const handler = buildHandler();
