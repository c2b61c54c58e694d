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
});
