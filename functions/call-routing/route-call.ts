/**
 * Routing of an INVITE that reached the edge (until the group call workflow takes over group URIs):
 *  1. a regrouped group → 302 to the temporary group, Warning 148 (TS 23.379 redirection NOTE);
 *  2. a registered user of this system → relay to the user's current contacts;
 *  3. a group of this system that is not regrouped → 480, group calls are set up by the workflow;
 *  4. anything else → 404.
 */
import type { SipUri } from '#core/model.ts';
import { WARNING_TEXT } from '#core/warning-codes.ts';
import type { AppDeps } from '../shared/deps.ts';

export type CallRoute =
  | { action: 'relay'; targets: { contact: string }[] }
  | { action: 'redirect'; status: 302; contact: SipUri; warningCode: number; warning: string }
  | { action: 'reject'; status: number; reason: string; warningCode?: number; warning?: string }
  | { action: 'hold'; heldId: string; timeoutMs?: number };

export const routeCall = async (
  call: { caller: SipUri; target: SipUri },
  deps: AppDeps,
): Promise<CallRoute> => {
  const now = deps.now();
  const marker = await deps.store.getMarker(call.target, now);
  if (marker?.status === 'active') {
    return {
      action: 'redirect',
      status: 302,
      contact: marker.tgi,
      warningCode: 148,
      warning: WARNING_TEXT[148],
    };
  }
  const user = await deps.store.getUser(call.target);
  if (user) {
    const bindings = await deps.store.listRegistrations(call.target, now);
    if (bindings.length === 0) return { action: 'reject', status: 480, reason: 'Temporarily Unavailable' };
    // The most recently refreshed binding first (the edge relays to the first it can reach).
    const latest = [...bindings].sort((a, b) => b.expiresAt - a.expiresAt);
    return { action: 'relay', targets: latest.map((b) => ({ contact: b.contact })) };
  }
  if (await deps.store.getGroup(call.target)) {
    return {
      action: 'reject',
      status: 480,
      reason: 'Temporarily Unavailable',
      warning: 'group calls are set up by the group call workflow',
    };
  }
  return { action: 'reject', status: 404, reason: 'Not Found' };
};
