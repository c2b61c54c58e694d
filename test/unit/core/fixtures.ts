/** Helpers shared by the unit tests of the core. */
import type { DomainError } from '#core/errors.ts';

/** Runs `f` and answers what it throws; fails when it does not throw. */
export const catchError = (f: () => unknown): DomainError => {
  try {
    f();
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a throw');
};
