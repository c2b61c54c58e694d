/** Locates the shared SIP test corpora (../shared/corpora relative to the repository root). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The shared corpora folder; throws with a clear message when it is not there. */
export const corporaDir = (): string => {
  const candidates = [resolve(process.cwd(), '../shared/corpora'), resolve(process.cwd(), 'shared/corpora')];
  const found = candidates.find((d) => existsSync(d));
  if (!found)
    throw new Error(
      `SIP test corpora not found (looked in ${candidates.join(', ')}). They live in ../shared/corpora ` +
        'relative to the repository root; check out the shared folder next to the clone.',
    );
  return found;
};

/** The RFC 4475 torture-test folder. */
export const corpusDir = (): string => {
  const d = resolve(corporaDir(), 'rfc4475');
  if (!existsSync(d)) throw new Error(`RFC 4475 corpus not found at ${d}`);
  return d;
};
