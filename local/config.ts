/**
 * The local systems' configuration file (`config/demo.json` by default, `--config FILE`):
 * systems with their ports and secrets, users, groups and partner agreements, loaded at start.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { callPolicySchema } from '#core/call-policy.ts';
import { normalizeDomain } from '#core/ids.ts';
import { agreementFields } from '#functions/agreements/schema.ts';

const port = z.number().int().min(0).max(65535);
const secret = z.string().min(32, 'secrets need at least 32 characters');

const UserConfig = z.strictObject({
  mcpttId: z.string().min(1),
  displayName: z.string().min(1),
  password: z.string().min(8, 'password must have at least 8 characters'),
  roles: z
    .array(z.enum(['user', 'dispatcher', 'admin']))
    .min(1)
    .optional(),
  organization: z.string().optional(),
  functionalAlias: z.string().optional(),
});

const GroupConfig = z.strictObject({
  groupId: z.string().min(1),
  displayName: z.string().min(1),
  policy: callPolicySchema.optional(),
  members: z
    .array(z.strictObject({ mcpttId: z.string().min(1), required: z.boolean().optional() }))
    .default([]),
});

const AgreementConfig = z.strictObject({
  partner: z.string().min(1),
  ...agreementFields,
  // Locally these default to the partner system's own ports from this file.
  apiUrl: agreementFields.apiUrl.optional(),
  sipUri: agreementFields.sipUri.optional(),
});

const SystemConfig = z.strictObject({
  domain: z.string().min(1),
  http: z.strictObject({ port }),
  sip: z.strictObject({
    port,
    /** Port of the edge control API (HTTP, loopback only); default: the HTTP API port + 1 (0 stays 0). */
    controlPort: port.optional(),
    /** Digest algorithms the edge offers, most preferred first (RFC 8760 §2.4). */
    digestAlgorithms: z
      .array(z.enum(['SHA-256', 'MD5']))
      .min(1)
      .max(2)
      .default(['SHA-256', 'MD5']),
  }),
  tokenSecret: secret,
  edgeToken: secret,
  partnerTimeoutMs: z.number().int().min(50).max(30_000).default(3000),
  users: z.array(UserConfig).default([]),
  groups: z.array(GroupConfig).default([]),
  agreements: z.array(AgreementConfig).default([]),
});

export const LocalConfig = z.strictObject({
  $comment: z.string().optional(),
  systems: z.array(SystemConfig).min(1).max(16),
});
export type LocalConfig = z.infer<typeof LocalConfig>;
export type SystemConfig = z.infer<typeof SystemConfig>;

/** A system whose agreements have their partner endpoints filled in. */
export type ResolvedSystemConfig = Omit<SystemConfig, 'agreements'> & {
  agreements: (z.infer<typeof AgreementConfig> & { apiUrl: string; sipUri: string })[];
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses and checks a configuration; every problem is named with its path. */
export const parseLocalConfig = (json: unknown, source = 'config'): LocalConfig => {
  const parsed = LocalConfig.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  for (const s of config.systems) s.domain = normalizeDomain(s.domain);
  const domains = config.systems.map((s) => s.domain);
  const dup = domains.find((d, i) => domains.indexOf(d) !== i);
  if (dup) throw new ConfigError(`${source}: system ${dup} is listed twice`);
  const ports = config.systems.flatMap((s) => [s.http.port, s.sip.port]).filter((p) => p !== 0);
  const dupPort = ports.find((p, i) => ports.indexOf(p) !== i);
  if (dupPort !== undefined) throw new ConfigError(`${source}: port ${dupPort} is used twice`);
  return config;
};

export const loadLocalConfig = (file: string): LocalConfig => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  return parseLocalConfig(json, file);
};

/** Fills in partner endpoints from the partner systems of the same file (loopback). */
export const resolveSystems = (config: LocalConfig, host = '127.0.0.1'): ResolvedSystemConfig[] => {
  const byDomain = new Map(config.systems.map((s) => [s.domain, s]));
  return config.systems.map((s) => ({
    ...s,
    agreements: s.agreements.map((a) => {
      const partner = byDomain.get(normalizeDomain(a.partner));
      const apiUrl = a.apiUrl ?? (partner ? `http://${host}:${partner.http.port}` : undefined);
      const sipUri = a.sipUri ?? (partner ? `sip:${host}:${partner.sip.port}` : undefined);
      if (!apiUrl || !sipUri) {
        throw new ConfigError(
          `${s.domain}: agreement with ${a.partner} needs apiUrl and sipUri (partner not in this file)`,
        );
      }
      return { ...a, apiUrl, sipUri };
    }),
  }));
};
