// functions/users/handler.ts — group management: users and their credentials (hashes only).
import { z } from 'zod';
import { assertAdmin, assertMayRegroup } from '#core/authorization.ts';
import { credentialsFor } from '#core/digest-credentials.ts';
import { conflict, notFound } from '#core/errors.ts';
import { normalizeSipUri } from '#core/ids.ts';
import { localIdentity } from '#core/local-id.ts';
import type { Role, User } from '#core/model.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';

const RoleSchema = z.enum(['user', 'dispatcher', 'admin']);
const Profile = {
  displayName: z.string().min(1).max(128),
  organization: z.string().min(1).max(128).optional(),
  functionalAlias: z.string().min(1).max(128).optional(),
  roles: z.array(RoleSchema).min(1).max(3).optional(),
};
const Password = z.string().min(8, 'password must have at least 8 characters').max(1024);

const CreateUser = z.strictObject({ mcpttId: z.string().min(1).max(256), password: Password, ...Profile });
const UpdateUser = z.strictObject({
  ...Profile,
  displayName: Profile.displayName.optional(),
  password: Password.optional(),
});

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'GET /users': async ({ principal, deps }) => {
        assertMayRegroup(await principal());
        return { status: 200, body: { users: await deps.store.listUsers() } };
      },
      'POST /users': async ({ principal, body, deps }) => {
        assertAdmin(await principal());
        const input = body(CreateUser);
        const mcpttId = localIdentity(input.mcpttId, deps.system, 'user');
        const user: User = {
          mcpttId,
          displayName: input.displayName,
          roles: [...new Set<Role>(input.roles ?? ['user'])],
          ...(input.organization ? { organization: input.organization } : {}),
          ...(input.functionalAlias ? { functionalAlias: input.functionalAlias } : {}),
        };
        const created = await deps.store.createUser(
          user,
          credentialsFor(mcpttId, deps.system, input.password),
        );
        if (!created) throw conflict(`user ${mcpttId} already exists`);
        return { status: 201, body: user, headers: { location: `/users/${encodeURIComponent(mcpttId)}` } };
      },
      'GET /users/{mcpttId}': async ({ principal, param, deps }) => {
        assertMayRegroup(await principal());
        const mcpttId = normalizeSipUri(param('mcpttId'), deps.system);
        const stored = await deps.store.getUser(mcpttId);
        if (!stored) throw notFound(`no user ${mcpttId}`);
        const groups = await deps.store.groupsOfUser(mcpttId);
        return { status: 200, body: { ...stored.user, groups } };
      },
      'PUT /users/{mcpttId}': async ({ principal, param, body, deps }) => {
        assertAdmin(await principal());
        const mcpttId = localIdentity(param('mcpttId'), deps.system, 'user');
        const input = body(UpdateUser);
        const stored = await deps.store.getUser(mcpttId);
        if (!stored) throw notFound(`no user ${mcpttId}`);
        const { password, ...profile } = input;
        const user: User = { ...stored.user, ...profile, mcpttId };
        if (profile.roles) user.roles = [...new Set<Role>(profile.roles)];
        const credentials = password ? credentialsFor(mcpttId, deps.system, password) : stored.credentials;
        if (!(await deps.store.replaceUser(user, credentials))) throw notFound(`no user ${mcpttId}`);
        return { status: 200, body: user };
      },
      'DELETE /users/{mcpttId}': async ({ principal, param, deps }) => {
        assertAdmin(await principal());
        const mcpttId = localIdentity(param('mcpttId'), deps.system, 'user');
        const groups = await deps.store.groupsOfUser(mcpttId);
        if (groups.length > 0) {
          throw conflict(
            `user ${mcpttId} is still a member of ${groups.join(', ')}; remove the memberships first`,
          );
        }
        if (!(await deps.store.deleteUser(mcpttId))) throw notFound(`no user ${mcpttId}`);
        return { status: 204 };
      },
    },
    deps,
  );

export const handler = buildHandler();
