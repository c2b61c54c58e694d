/**
 * Functions → SIP edge: the edge control API client (edge/control-api.ts). Bearer-authenticated,
 * every call bounded by a timeout. A system may run several edge tasks; a group call's held INVITE
 * and its member legs live in the task that took the INVITE, which names its own control URL when
 * it asks the functions where the INVITE goes ({@link edgeControlBaseUrl}, {@link createEdgeControlClients}).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** One batch of outgoing legs (`POST /v1/legs`). */
export interface OriginateRequest {
  callId: string;
  from: string;
  displayName?: string;
  reportUrl?: string;
  sdp?: string;
  mcpttInfo?: string;
  headers?: [string, string][];
  legs: { legId: string; target: string; contact?: string; nextHop?: string; headers?: [string, string][] }[];
}

export interface EdgeControl {
  /** SIP MESSAGE to members (`POST /v1/messages`). */
  sendMessages(m: {
    from: string;
    contentType: string;
    body: string;
    targets: { target: string; contact?: string }[];
  }): Promise<{ sent: number; skipped: number }>;
  /** Invites a batch of members (`POST /v1/legs`). */
  originate(req: OriginateRequest): Promise<{ legs: { legId: string; sipCallId?: string }[] }>;
  /** The final response of a held INVITE (`POST /v1/held/{heldId}/final`). */
  held(callId: string, final: unknown): Promise<void>;
  /**
   * Ends several legs of one call in one request (`POST /v1/legs/end`): CANCEL for a ringing leg, BYE
   * for an answered one. Per leg, whether the edge knew it and sent the request.
   */
  endLegs(callId: string, legs: readonly LegEnding[]): Promise<{ legs: EndedLeg[] }>;
}

/** A leg to end, and how. */
export interface LegEnding {
  legId: string;
  action: 'cancel' | 'bye';
}

/** What the edge did about one leg to end: `found` false for a leg it does not hold. */
export interface EndedLeg extends LegEnding {
  found: boolean;
  done: boolean;
}

export const createEdgeControlClient = (opts: {
  url: string;
  token: string;
  timeoutMs?: number;
}): EdgeControl => {
  /** POSTs JSON and returns the JSON answer; any other status than `expect` is an error. */
  const post = async <T>(path: string, body: unknown, expect: (status: number) => boolean): Promise<T> => {
    const res = await fetch(`${opts.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
    });
    const text = await res.text();
    if (!expect(res.status)) throw new Error(`edge control API ${path} answered ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const ok = (s: number) => s >= 200 && s < 300;
  return {
    sendMessages: (m) => post('/v1/messages', m, ok),
    originate: (req) => post('/v1/legs', req, (s) => s === 202),
    held: (callId, final) => post<void>(`/v1/held/${encodeURIComponent(callId)}/final`, final, ok),
    endLegs: (callId, legs) => post('/v1/legs/end', { callId, legs }, ok),
  };
};

/** Longest edge control URL accepted from an edge (`edgeUrl` of `POST /edge/calls`). */
export const MAX_EDGE_URL_LENGTH = 256;

/** A DNS host name: labels of letters, digits and hyphens (RFC 1123), at most 253 characters. */
const HOST_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * The base URL (`scheme://host[:port]`) of an edge task's control API, when `raw` is one: http or
 * https, a host that is an IPv4 address, a bracketed IPv6 address or a DNS name, no credentials,
 * path, query or fragment, at most {@link MAX_EDGE_URL_LENGTH} characters. Undefined otherwise.
 */
export const edgeControlBaseUrl = (raw: string): string | undefined => {
  if (raw.length === 0 || raw.length > MAX_EDGE_URL_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password || url.search || url.hash) return undefined;
  if (url.pathname !== '/' && url.pathname !== '') return undefined;
  // `new URL` also accepts forms such as `http://x?` or `http://x#`, which carry nothing: refused too.
  if (/[?#@]/.test(raw)) return undefined;
  const host = url.hostname;
  const ok = host.startsWith('[') ? isIPv6(host.slice(1, -1)) : isIPv4(host) || HOST_NAME.test(host);
  return ok ? `${url.protocol}//${url.host}` : undefined;
};

/** Edge control clients cached by base URL (edge tasks come and go; the oldest entry goes first). */
const MAX_CACHED_EDGES = 64;

/**
 * The system's edge control clients, one per edge task, all with the same bearer token: `edge` at the
 * default URL (`EDGE_CONTROL_URL`, any task), and `edgeFor(url)` at the task a call names (its
 * `edgeUrl`), or the default client when the call names none (calls started before edges announced
 * their URL, local runs without it).
 * @throws Error from `edgeFor` when `url` is not an edge control base URL ({@link edgeControlBaseUrl}).
 */
export const createEdgeControlClients = (opts: {
  url: string;
  token: string;
  timeoutMs?: number;
}): { edge: EdgeControl; edgeFor: (url?: string) => EdgeControl } => {
  const client = (url: string) =>
    createEdgeControlClient({
      url,
      token: opts.token,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
  const edge = client(opts.url.replace(/\/+$/, ''));
  const cache = new Map<string, EdgeControl>();
  const edgeFor = (url?: string): EdgeControl => {
    if (url === undefined) return edge;
    const base = edgeControlBaseUrl(url);
    if (!base) throw new Error(`not an edge control URL: ${url.slice(0, 80)}`);
    let found = cache.get(base);
    if (found) {
      // Most recently used last.
      cache.delete(base);
    } else {
      found = client(base);
      if (cache.size >= MAX_CACHED_EDGES) cache.delete(cache.keys().next().value as string);
    }
    cache.set(base, found);
    return found;
  };
  return { edge, edgeFor };
};
