/**
 * Internal: a list of callbacks where one throwing callback neither stops the others nor unwinds
 * into a socket event handler (a handler bug must not take a socket, or the process, down).
 */
import type { TransportErrorContext, TransportErrorHandler } from './types.ts';

export class Listeners<A extends unknown[]> {
  private readonly list: ((...args: A) => void)[] = [];

  /** `onThrow` gets what a callback threw, with the arguments it was called with. */
  constructor(private readonly onThrow: (error: Error, args: A) => void) {}

  add(cb: (...args: A) => void): void {
    this.list.push(cb);
  }

  get size(): number {
    return this.list.length;
  }

  emit(...args: A): void {
    for (const cb of this.list) {
      try {
        cb(...args);
      } catch (e) {
        this.onThrow(asError(e), args);
      }
    }
  }
}

/**
 * Error listeners. With no listener registered, errors become a process warning (never an
 * uncaught exception).
 */
export class ErrorListeners {
  private readonly list: TransportErrorHandler[] = [];

  add(cb: TransportErrorHandler): void {
    this.list.push(cb);
  }

  emit(error: Error, context: TransportErrorContext): void {
    if (this.list.length === 0) {
      process.emitWarning(`SIP ${context.transport} transport: ${error.message}`, 'SipTransportWarning');
      return;
    }
    for (const cb of this.list) {
      try {
        cb(error, context);
      } catch {
        // An error handler that throws has nowhere left to report to.
      }
    }
  }
}

/** `error` as an Error. */
export const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
