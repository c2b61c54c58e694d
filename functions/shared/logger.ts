/** One JSON object per line on stdout/stderr, as CloudWatch Logs and the local runtime expect. */
export type LogFields = Record<string, unknown>;
type Level = 'info' | 'warn' | 'error';

const RANK: Record<string, number> = { info: 0, warn: 1, error: 2, silent: 3 };

/** `LOG_LEVEL` (info, warn, error, silent; default info) is read at each call so tests can change it. */
const enabled = (level: Level): boolean => (RANK[level] ?? 0) >= (RANK[process.env.LOG_LEVEL ?? 'info'] ?? 0);

const write = (level: Level, message: string, fields: LogFields) => {
  if (!enabled(level)) return;
  const line = JSON.stringify({ level, time: new Date().toISOString(), message, ...fields });
  if (level === 'info') console.log(line);
  else console.error(line);
};

export const logger = {
  info: (message: string, fields: LogFields = {}) => write('info', message, fields),
  warn: (message: string, fields: LogFields = {}) => write('warn', message, fields),
  error: (message: string, fields: LogFields = {}) => write('error', message, fields),
};
