/**
 * SIP transaction layer (RFC 3261 §17 with RFC 6026): public entry point.
 */
export type { TransactionContext, TransactionEvents, TransactionKind, TransactionState } from './base.ts';
export { TransactionBase } from './base.ts';
export type {
  ClientInviteOptions,
  ClientTransactionHandlers,
  ClientTransactionLike,
} from './client-invite.ts';
export { ClientInviteTransaction } from './client-invite.ts';
export { ClientNonInviteTransaction } from './client-non-invite.ts';
export {
  clientKey,
  inviteKeyForCancel,
  isRfc3261Branch,
  rfc2543Key,
  serverKey,
  serverKeysOf,
} from './matching.ts';
export { MAGIC_COOKIE, newBranch, newTag, randomHex } from './random.ts';
export { buildAckForFailure, buildCancel } from './requests.ts';
export type { ServerTransaction, ServerTransactionHandlers, ServerTransactionLike } from './server-invite.ts';
export { ServerInviteTransaction } from './server-invite.ts';
export { ServerNonInviteTransaction } from './server-non-invite.ts';
export type { Clock, ResolvedTimerConfig, TimerConfig, TimerHandle } from './timers.ts';
export { DEFAULT_TIMERS, FakeClock, realClock, resolveTimers } from './timers.ts';
export type {
  AckHandler,
  RequestHandler,
  StrayResponseHandler,
  TransactionCounts,
  TransactionLayerOptions,
  TransactionStats,
} from './transaction-layer.ts';
export { TransactionLayer } from './transaction-layer.ts';
