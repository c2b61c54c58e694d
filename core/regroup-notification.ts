/**
 * The notice members get when one of their affiliated groups is regrouped or the regroup is
 * cancelled (TS 22.280 R-6.6.2.2-002; TS 23.280 §10.2.4). Sent as a SIP MESSAGE (RFC 3428) by the
 * edge; see docs/decisions/0006-regroup-notification.md for the body and why MESSAGE.
 */
import { escapeXmlAttribute } from './affiliation-pidf.ts';
import type { SipUri } from './model.ts';

export const REGROUP_NOTIFICATION_TYPE = 'application/vnd.mcptt-regroup.notification+xml';
export const REGROUP_NOTIFICATION_NS = 'urn:mcptt-regroup:notification:1';

export interface RegroupNotice {
  action: 'regrouped' | 'regroup-cancelled';
  tgi: SipUri;
  /** The member's own group that is affected. */
  group: SipUri;
  displayName?: string;
}

export const regroupNotificationBody = (n: RegroupNotice): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<regroup-notification xmlns="${REGROUP_NOTIFICATION_NS}" action="${n.action}" tgi="${escapeXmlAttribute(n.tgi)}" group="${escapeXmlAttribute(n.group)}"${n.displayName ? ` display-name="${escapeXmlAttribute(n.displayName)}"` : ''}/>\n`;
