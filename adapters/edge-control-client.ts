/**
 * Functions → SIP edge: the edge control API client (edge/control-api.ts). Bearer-authenticated,
 * bounded by a timeout. Only what the functions use today: SIP MESSAGE to members.
 */
export interface EdgeControl {
  sendMessages(m: {
    from: string;
    contentType: string;
    body: string;
    targets: { target: string; contact?: string }[];
  }): Promise<{ sent: number; skipped: number }>;
  cancelLeg?(callId: string, legId: string): Promise<void>;
  byeLeg?(callId: string, legId: string): Promise<void>;
}

export const createEdgeControlClient = (opts: {
  url: string;
  token: string;
  timeoutMs?: number;
}): EdgeControl => ({
  async sendMessages(m) {
    const res = await fetch(`${opts.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(m),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 3000),
    });
    if (!res.ok) throw new Error(`edge control API answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as { sent: number; skipped: number };
  },
  cancelLeg: (callId, legId) => createCallControl(opts).cancelLeg(callId, legId),
  byeLeg: (callId, legId) => createCallControl(opts).byeLeg(callId, legId),
});

/** One batch of outgoing legs (edge/control-api.ts `POST /v1/legs`). */
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

export const originateLegs = async (
  opts: { url: string; token: string; timeoutMs?: number },
  req: OriginateRequest,
): Promise<{ legs: { legId: string; sipCallId?: string }[] }> => {
  const res = await fetch(`${opts.url}/v1/legs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(req),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
  });
  if (res.status !== 202) throw new Error(`edge control API answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { legs: { legId: string; sipCallId?: string }[] };
};

/** The final response of a held INVITE, CANCEL and BYE of legs (edge/control-api.ts). */
export const createCallControl = (opts: { url: string; token: string; timeoutMs?: number }) => {
  const post = async (path: string, body?: unknown) => {
    const res = await fetch(`${opts.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
    });
    if (!res.ok) throw new Error(`edge control API ${path} answered ${res.status}: ${await res.text()}`);
  };
  const q = (callId: string) => `?callId=${encodeURIComponent(callId)}`;
  return {
    held: (callId: string, final: unknown) => post(`/v1/held/${encodeURIComponent(callId)}/final`, final),
    cancelLeg: (callId: string, legId: string) =>
      post(`/v1/legs/${encodeURIComponent(legId)}/cancel${q(callId)}`),
    byeLeg: (callId: string, legId: string) => post(`/v1/legs/${encodeURIComponent(legId)}/bye${q(callId)}`),
  };
};
