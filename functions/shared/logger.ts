/**
 * One JSON object per line on stdout/stderr, as CloudWatch Logs and the local runtime expect.
 *
 * Every line carries the fields of the current log context: the handlers open a context per
 * invocation ({@link withLogContext}) and add what they learn about the call as soon as they know
 * it ({@link addLogContext}: `callId`, `tgi`, `partner`), so each line of a call's processing can be
 * found by call, temporary group and partner. {@link Logger.child} binds fields explicitly.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type LogFields = Record<string, unknown>;
type Level = 'info' | 'warn' | 'error';

const RANK: Record<string, number> = { info: 0, warn: 1, error: 2, silent: 3 };

/** `LOG_LEVEL` (info, warn, error, silent; default info) is read at each call so tests can change it. */
const enabled = (level: Level): boolean => (RANK[level] ?? 0) >= (RANK[process.env.LOG_LEVEL ?? 'info'] ?? 0);

/** The fields of the current invocation (mutable: {@link addLogContext} adds to it). */
const context = new AsyncLocalStorage<LogFields>();

/** The context fields of the current invocation (a copy; empty outside any context). */
export const logContext = (): LogFields => ({ ...context.getStore() });

/**
 * Runs `fn` in a new log context holding the enclosing context's fields plus `fields`; every log line
 * written while it runs (awaited calls included) carries them.
 */
export const withLogContext = <T>(fields: LogFields, fn: () => T): T =>
  context.run({ ...context.getStore(), ...defined(fields) }, fn);

/**
 * Adds fields to the current log context (a handler learns the call's TGI or partner as it goes).
 * Outside any context it does nothing.
 */
export const addLogContext = (fields: LogFields): void => {
  const store = context.getStore();
  if (store) Object.assign(store, defined(fields));
};

const defined = (fields: LogFields): LogFields =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));

const write = (level: Level, message: string, bound: LogFields, fields: LogFields) => {
  if (!enabled(level)) return;
  const record = {
    level,
    time: new Date().toISOString(),
    message,
    ...context.getStore(),
    ...bound,
    ...fields,
  };
  if (process.env.AWS_LAMBDA_LOG_FORMAT === 'JSON') {
    // Lambda's JSON log format wraps each console line in its own object (timestamp, level, requestId)
    // and keeps an object argument as JSON under `message`, where Logs Insights finds its fields
    // (`message.callId`); a string would stay an opaque escaped string.
    const log = level === 'info' ? console.info : level === 'warn' ? console.warn : console.error;
    log(record);
    return;
  }
  const line = JSON.stringify(record);
  if (level === 'info') console.log(line);
  else console.error(line);
};

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose every line also carries `fields` (on top of the log context). */
  child(fields: LogFields): Logger;
}

const loggerWith = (bound: LogFields): Logger => ({
  info: (message, fields = {}) => write('info', message, bound, fields),
  warn: (message, fields = {}) => write('warn', message, bound, fields),
  error: (message, fields = {}) => write('error', message, bound, fields),
  child: (fields) => loggerWith({ ...bound, ...defined(fields) }),
});

export const logger: Logger = loggerWith({});
