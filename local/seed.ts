/**
 * Applies a system's configuration to its store at start: users (passwords hashed), groups with
 * members, agreements. Items named in the file are created or replaced; everything else (created
 * through the API, regroups, affiliations) is left as it is, so data survives restarts.
 */
import type { Store } from '#adapters/dynamo/store.ts';
import { resolveCallPolicy } from '#core/call-policy.ts';
import { credentialsFor, verifyPassword } from '#core/digest-credentials.ts';
import { normalizeSipUri } from '#core/ids.ts';
import type { Role, User } from '#core/model.ts';
import { toAgreement } from '#functions/agreements/handler.ts';
import type { ResolvedSystemConfig } from './config.ts';

export const seedSystem = async (cfg: ResolvedSystemConfig, store: Store): Promise<void> => {
  const system = cfg.domain;
  await Promise.all(
    cfg.users.map(async (u) => {
      const mcpttId = normalizeSipUri(u.mcpttId, system);
      const user: User = {
        mcpttId,
        displayName: u.displayName,
        roles: [...new Set<Role>(u.roles ?? ['user'])],
        ...(u.organization ? { organization: u.organization } : {}),
        ...(u.functionalAlias ? { functionalAlias: u.functionalAlias } : {}),
      };
      const existing = await store.getUser(mcpttId);
      // Keep the stored hashes when the password did not change (hashing is deliberately slow).
      const credentials =
        existing && verifyPassword(u.password, existing.credentials.passwordHash)
          ? existing.credentials
          : credentialsFor(mcpttId, system, u.password);
      await store.putUser(user, credentials);
    }),
  );
  for (const g of cfg.groups) {
    const groupId = normalizeSipUri(g.groupId, system);
    await store.putGroup({ groupId, displayName: g.displayName, policy: resolveCallPolicy(g.policy) });
    await Promise.all(
      g.members.map((m) =>
        store.putMember(groupId, {
          mcpttId: normalizeSipUri(m.mcpttId, system),
          required: m.required ?? false,
        }),
      ),
    );
  }
  for (const a of cfg.agreements) await store.putAgreement(toAgreement(a.partner, a, system));
};
