/**
 * Unguessable identifiers for the transaction layer: Via branch parameters (RFC 3261 §8.1.1.7,
 * §17.1.3 — branches must be unique across space and time, and unguessable so that off-path
 * attackers cannot forge responses) and tags (§19.3: at least 32 bits of randomness).
 *
 * Random bytes come from `crypto.randomFillSync` into a pool refilled 4 KiB at a time, so a branch
 * costs one `toString('hex')` and no system call.
 */
import { randomFillSync } from 'node:crypto';

/** RFC 3261 §8.1.1.7: every branch inserted by an RFC 3261 element begins with this. */
export const MAGIC_COOKIE = 'z9hG4bK';

const POOL = Buffer.allocUnsafe(4096);
let offset = POOL.length;

/** `bytes` random bytes (CSPRNG) as lower-case hex. */
export const randomHex = (bytes: number): string => {
  if (bytes > POOL.length) return randomFillSync(Buffer.allocUnsafe(bytes)).toString('hex');
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const s = POOL.toString('hex', offset, offset + bytes);
  // Never hand out the same pool bytes twice.
  POOL.fill(0, offset, offset + bytes);
  offset += bytes;
  return s;
};

/** A new Via branch: `z9hG4bK` + 96 random bits as hex (RFC 3261 §8.1.1.7, §17.1.3). */
export const newBranch = (): string => MAGIC_COOKIE + randomHex(12);

/** A new From/To tag: 64 random bits as hex (RFC 3261 §19.3 asks for at least 32). */
export const newTag = (): string => randomHex(8);
