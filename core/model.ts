/**
 * The MCPTT domain model shared by the functions and the SIP edge. Plain data, no I/O.
 *
 * Identities are SIP URIs normalized by `core/ids.ts` (`sip:user@host`, lower-case host):
 * an MCPTT ID identifies a user, an MCPTT group ID a group, a TGI a temporary group
 * (TS 23.280 §8.1.2, §8.1.3, §10.2.4).
 */

/** A normalized SIP URI such as `sip:alice@primary.example`. */
export type SipUri = string;
/** An MCPTT system is named by its domain, e.g. `primary.example`. */
export type SystemDomain = string;
/** Milliseconds since the epoch. */
export type EpochMs = number;

export type Role = 'user' | 'dispatcher' | 'admin';

/** User profile fields that a partner agreement may allow to be shared (TS 23.280 §10.1.1). */
export const SHAREABLE_USER_FIELDS = ['displayName', 'organization', 'functionalAlias'] as const;
export type ShareableUserField = (typeof SHAREABLE_USER_FIELDS)[number];

export interface User {
  mcpttId: SipUri;
  displayName: string;
  organization?: string;
  functionalAlias?: string;
  roles: Role[];
}

/** Credentials kept for a user: hashes only, never the password (RFC 3261 §22.4, RFC 8760). */
export interface UserCredentials {
  /** The digest realm the HA1 values were computed for (the system domain). */
  realm: string;
  /** MD5(username:realm:password), RFC 2617 / RFC 3261 §22.4. */
  ha1Md5: string;
  /** SHA-256(username:realm:password), RFC 8760. */
  ha1Sha256: string;
  /** scrypt hash for API log-in, `scrypt$N$r$p$salt$hash` (base64url parts). */
  passwordHash: string;
}

/** Action when the acknowledgement timer of required members expires (TS 24.481). */
export type ExpiryAction = 'proceed' | 'abandon';

/** Group call policies of TS 24.481 (`urn:3gpp:ns:mcpttGroupInfo:1.0`, on-network values). */
export interface CallPolicy {
  /** on-network-minimum-number-to-start: affiliated members that must accept before the call starts. */
  minimumNumberToStart: number;
  /** on-network-timeout-for-acknowledgement-of-required-members, milliseconds. */
  acknowledgementTimeoutMs: number;
  /** on-network-action-upon-expiration-of-timeout-for-acknowledgement-of-required-members. */
  actionOnExpiry: ExpiryAction;
  /** on-network-hang-timer, milliseconds. */
  hangTimerMs: number;
  /** on-network-maximum-duration, milliseconds. */
  maximumDurationMs: number;
  /** Group priority, 0 (lowest) .. 255 (highest); TS 24.481 <on-network-group-priority>. */
  priority: number;
}

export interface GroupMember {
  mcpttId: SipUri;
  /** on-network-required: the call waits for this member's acknowledgement. */
  required: boolean;
}

export interface Group {
  groupId: SipUri;
  displayName: string;
  policy: CallPolicy;
}

/** A constituent group of a temporary group, with the system that hosts it. */
export interface Constituent {
  groupId: SipUri;
  system: SystemDomain;
}

export type TemporaryGroupStatus = 'pending' | 'active' | 'cancelling';

/** A temporary group formed by group regroup (TS 23.280 §10.2.4). Owned by the primary. */
export interface TemporaryGroup {
  tgi: SipUri;
  displayName: string;
  constituents: Constituent[];
  creator: SipUri;
  /** One merged set of policies (priority, timers) for the whole temporary group. */
  policy: CallPolicy;
  status: TemporaryGroupStatus;
  createdAt: EpochMs;
  /** Only for `pending`: after this instant a pending record is treated as absent. */
  expiresAt?: EpochMs;
  /** Only for `cancelling`: partners that have not yet confirmed the release. */
  pendingReleases?: SystemDomain[];
}

/**
 * Regroup marker on a constituent group: "this group is regrouped into TGI". A partner
 * answers group calls on a regrouped group with 302 to the TGI (TS 23.379, TS 24.379 Warning 148).
 */
export interface RegroupMarker {
  groupId: SipUri;
  tgi: SipUri;
  /** The system that owns the temporary group. */
  primary: SystemDomain;
  status: 'pending' | 'active';
  createdAt: EpochMs;
  /** Only for `pending`: treated as absent after this instant. */
  expiresAt?: EpochMs;
}

/** An affiliation of a user (one client) to a group, valid until `expiresAt` (TS 24.379 §9.2). */
export interface Affiliation {
  mcpttId: SipUri;
  groupId: SipUri;
  clientId: string;
  expiresAt: EpochMs;
}

/** A registration binding of a contact to an MCPTT ID (RFC 3261 §10). */
export interface Registration {
  mcpttId: SipUri;
  contact: string;
  expiresAt: EpochMs;
  /** Instance/client identifier when known (RFC 5626 +sip.instance or MCPTT client ID). */
  clientId?: string;
}

/**
 * One side's view of a service provider agreement with a partner system (TS 23.379 pre-condition 1).
 */
export interface PartnerAgreement {
  /** The partner's domain, e.g. `partner.example`. */
  partner: SystemDomain;
  /** Base URL of the partner's partner API. */
  apiUrl: string;
  /** SIP URI of the partner's edge, for invitations between systems. */
  sipUri: string;
  /** Identifier of the shared key, sent with every signed request. */
  keyId: string;
  /** Shared HMAC-SHA256 key (base64url); never returned by the admin API. */
  key: string;
  /** Which fields of our users we let this partner see. */
  sharedUserFields: ShareableUserField[];
  /** Which of our groups this partner may put into its temporary groups; `*` for all. */
  regroupableGroups: SipUri[] | '*';
}
