/** Test support: the demo configuration on free loopback ports, and small HTTP helpers. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { type LocalConfig, parseLocalConfig } from '#local/config.ts';
import { type LocalSystems, startLocalSystems } from '#local/systems.ts';

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });

/**
 * A loopback port every connection to is refused: port 2, privileged and unused, so nothing (not the
 * systems of this test, nor another test worker) can be listening there, as could on a port
 * {@link freePort} found free and let go. Not port 1: it is on the Fetch standard's list of bad ports,
 * which fetch refuses ("bad port") before it tries to connect.
 */
export const REFUSED_PORT = 2;

/** The shipped demo configuration, moved to free ports (and optionally changed). */
export const demoConfig = async (edit?: (json: LocalConfig) => void): Promise<LocalConfig> => {
  const json = JSON.parse(readFileSync('config/demo.json', 'utf8')) as LocalConfig;
  for (const s of json.systems) {
    s.http.port = await freePort();
    s.sip.port = await freePort();
    // Its own free port too: the default (HTTP port + 1) may belong to another test's server.
    s.sip.controlPort = await freePort();
  }
  edit?.(json);
  return parseLocalConfig(json, 'test config');
};

const addressInUse = (e: unknown): boolean =>
  (e as NodeJS.ErrnoException).code === 'EADDRINUSE' || /EADDRINUSE/.test(String(e));

/**
 * The demo systems on free ports. A port `freePort` found free can be taken by another test file's
 * server before the systems listen on it: then they start again on other ports (at most 3 times).
 */
export const startDemo = async (
  opts: { dataDir?: string; edit?: (json: LocalConfig) => void; config?: LocalConfig } = {},
): Promise<LocalSystems> => {
  for (let attempt = 1; ; attempt++) {
    const config = opts.config ?? (await demoConfig(opts.edit));
    try {
      return await startLocalSystems(config, opts.dataDir ? { dataDir: opts.dataDir } : {});
    } catch (e) {
      if (opts.config !== undefined || attempt >= 3 || !addressInUse(e)) throw e;
    }
  }
};

export interface ApiResult<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export const call = async <T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<ApiResult<T>> => {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, headers: res.headers };
};

export const login = async (base: string, username: string, password: string): Promise<string> => {
  const res = await call<{ token: string }>(base, 'POST', '/auth/token', { body: { username, password } });
  if (res.status !== 200)
    throw new Error(`log-in of ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token;
};

export const enc = encodeURIComponent;
