/**
 * Functions → SIP edge: the edge control API client (edge/control-api.ts). Bearer-authenticated,
 * every call bounded by a timeout.
 */

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
  cancelLeg(callId: string, legId: string): Promise<void>;
  byeLeg(callId: string, legId: string): Promise<void>;
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
  const leg = (callId: string, legId: string, action: 'cancel' | 'bye') =>
    post<void>(
      `/v1/legs/${encodeURIComponent(legId)}/${action}?callId=${encodeURIComponent(callId)}`,
      undefined,
      ok,
    );
  return {
    sendMessages: (m) => post('/v1/messages', m, ok),
    originate: (req) => post('/v1/legs', req, (s) => s === 202),
    held: (callId, final) => post<void>(`/v1/held/${encodeURIComponent(callId)}/final`, final, ok),
    cancelLeg: (callId, legId) => leg(callId, legId, 'cancel'),
    byeLeg: (callId, legId) => leg(callId, legId, 'bye'),
  };
};
