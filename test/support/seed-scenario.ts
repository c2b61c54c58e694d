/**
 * Test support: the parties of the seed scenario on the demo systems — UAs of the demo users that
 * register with digest and affiliate with PUBLISH — and the dispatcher's regroup of fire-1 (primary)
 * with ambulance-1 (partner).
 */
import { expect } from 'vitest';
import type { LocalSystems } from '#local/systems.ts';
import { call, login } from './local-systems.ts';
import { SipUa } from './sip-ua.ts';

/** Where each demo user of the scenario lives and which group it affiliates to. */
export const SEED_PARTIES = {
  alice: { domain: 'primary.example', groups: ['sip:fire-1@primary.example'] },
  dispatcher: { domain: 'primary.example', groups: ['sip:fire-1@primary.example'] },
  carol: { domain: 'partner.example', groups: ['sip:ambulance-1@partner.example'] },
  dave: { domain: 'partner.example', groups: ['sip:ambulance-2@partner.example'] },
} as const;
export type SeedParty = keyof typeof SEED_PARTIES;

/** Registers `u` (200) and affiliates it to `groups` (200). */
export const goOnline = async (u: SipUa, groups: readonly string[]): Promise<void> => {
  expect((await u.request(u.register({ expires: 600 }))).response.status).toBe(200);
  expect((await u.request(u.publish({ groups: [...groups] }))).response.status).toBe(200);
};

/** The UAs of one test file, on the edges of its local systems (password `<user>-pass`). */
export class SeedUas {
  readonly all: SipUa[] = [];
  constructor(private readonly local: () => LocalSystems) {}

  /** A UA of `user` on the edge of `domain`, not yet registered. */
  async start(user: string, domain: string): Promise<SipUa> {
    const u = await SipUa.start({
      user,
      password: `${user}-pass`,
      domain,
      edge: this.local().get(domain).edge,
    });
    this.all.push(u);
    return u;
  }

  /** The UAs of `parties`, started in order, then registered and affiliated to their seed groups. */
  async online<P extends SeedParty>(...parties: P[]): Promise<Record<P, SipUa>> {
    const started = [] as [P, SipUa][];
    for (const p of parties) started.push([p, await this.start(p, SEED_PARTIES[p].domain)]);
    for (const [p, u] of started) await goOnline(u, SEED_PARTIES[p].groups);
    return Object.fromEntries(started) as Record<P, SipUa>;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.all.map((u) => u.close()));
  }
}

/** The primary's dispatcher regroups fire-1 and ambulance-1@partner.example into `name` (201). */
export const regroupSeed = async (local: LocalSystems, name = 'seed') => {
  const primary = local.get('primary.example').url;
  const token = await login(primary, 'dispatcher', 'dispatcher-pass');
  const created = await call(primary, 'POST', '/regroups', {
    token,
    body: { constituents: ['fire-1', 'ambulance-1@partner.example'], name },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { created, token, primary };
};
