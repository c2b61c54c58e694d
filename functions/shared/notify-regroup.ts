/**
 * Tells the affiliated members of our groups that their group was regrouped, or no longer is
 * (TS 22.280 R-6.6.2.2-002). Best effort: a failure is logged and never undoes the regroup.
 *
 * The notices go through `deps.messages` when set (the message-relay function, for regroups outside the
 * VPC in AWS), else through the edge control API directly (`deps.edge`: locally, and the functions in the
 * VPC). With neither, nothing is sent.
 */
import type { SipUri } from '#core/model.ts';
import {
  REGROUP_NOTIFICATION_TYPE,
  type RegroupNotice,
  regroupNotificationBody,
} from '#core/regroup-notification.ts';
import type { AppDeps } from './deps.ts';
import { logger } from './logger.ts';

export const notifyRegroup = async (
  deps: Pick<AppDeps, 'edge' | 'messages' | 'store' | 'now' | 'system'>,
  notice: Omit<RegroupNotice, 'group'>,
  groups: readonly SipUri[],
): Promise<number> => {
  const messages = deps.messages ?? deps.edge;
  if (!messages || groups.length === 0) return 0;
  const now = deps.now();
  let sent = 0;
  try {
    for (const group of groups) {
      const members = [...new Set((await deps.store.affiliationsToGroup(group, now)).map((a) => a.mcpttId))];
      // Every member's contacts, in one batch read.
      const registrations = await deps.store.registrationsOf(members, now);
      const targets = members.flatMap((m) =>
        (registrations.get(m) ?? []).map((r) => ({ target: m, contact: r.contact })),
      );
      if (targets.length === 0) continue;
      const out = await messages.sendMessages({
        from: notice.tgi,
        contentType: REGROUP_NOTIFICATION_TYPE,
        body: regroupNotificationBody({ ...notice, group }),
        targets,
      });
      sent += out.sent;
    }
  } catch (e) {
    logger.warn('regroup notification failed', {
      tgi: notice.tgi,
      system: deps.system,
      reason: (e as Error).message,
    });
  }
  return sent;
};
