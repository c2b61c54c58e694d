/**
 * The edge's HTTP client for its own system's functions (the `edge` routes of lib/routes.ts).
 * Locally it authenticates with the system's edge bearer token; in AWS the same routes use IAM
 * authorization. Every call has a timeout; failures become `FunctionsError` with the status.
 */
export interface FunctionsClientOptions {
  /** Base URL of the system's HTTP API, e.g. http://127.0.0.1:8060 */
  baseUrl: string;
  edgeToken: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class FunctionsError extends Error {
  override name = 'FunctionsError';
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export interface Credentials {
  mcpttId: string;
  username: string;
  realm: string;
  ha1Md5: string;
  ha1Sha256: string;
}

export interface Binding {
  mcpttId: string;
  contact: string;
  expiresAt: number;
  clientId?: string;
}

export interface AffiliationOutcome {
  groupId: string;
  status: 'affiliated' | 'deaffiliated' | 'rejected';
  expiresAt?: number;
  reason?: string;
}

export type CallRoute =
  | { action: 'relay'; targets: { contact: string }[] }
  | { action: 'answer'; sdp?: string; headers?: [string, string][] }
  | { action: 'hold'; heldId: string; timeoutMs?: number }
  | { action: 'redirect'; status: number; contact: string; warningCode?: number; warning?: string }
  | { action: 'reject'; status: number; reason: string; warningCode?: number; warning?: string };

export const createFunctionsClient = (opts: FunctionsClientOptions) => {
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const request = async <T>(
    method: 'GET' | 'POST',
    path: string,
    body?: { json?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> },
  ): Promise<T> => {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.edgeToken}`, ...body?.headers };
    let payload: string | undefined;
    if (body?.json !== undefined) {
      payload = JSON.stringify(body.json);
      headers['content-type'] = 'application/json';
    } else if (body?.raw !== undefined) {
      payload = body.raw;
      headers['content-type'] = body.contentType ?? 'application/octet-stream';
    }
    const res = await doFetch(`${opts.baseUrl}${path}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep text
    }
    if (!res.ok) {
      const message =
        parsed && typeof parsed === 'object' && 'message' in parsed
          ? String(parsed.message)
          : `HTTP ${res.status}`;
      throw new FunctionsError(message, res.status, parsed);
    }
    return parsed as T;
  };
  const enc = encodeURIComponent;
  return {
    /** Digest HA1 hashes of a user; undefined when the user does not exist. */
    async credentials(mcpttId: string): Promise<Credentials | undefined> {
      try {
        return await request<Credentials>('GET', `/edge/credentials/${enc(mcpttId)}`);
      } catch (e) {
        if (e instanceof FunctionsError && e.status === 404) return undefined;
        throw e;
      }
    },
    register(mcpttId: string, contact: string, expires: number, clientId?: string) {
      return request<{ mcpttId: string; bindings: Binding[] }>('POST', '/edge/registrations', {
        json: { mcpttId, contact, expires, ...(clientId ? { clientId } : {}) },
      });
    },
    bindings(mcpttId: string) {
      return request<{ mcpttId: string; bindings: Binding[] }>('GET', `/edge/registrations/${enc(mcpttId)}`);
    },
    /** Where an INVITE goes (functions/call-routing). */
    routeCall(
      caller: string,
      target: string,
      callId: string,
      partnerLeg?: { headers: Record<string, string>; tgi: string },
    ) {
      return request<CallRoute>('POST', '/edge/calls', {
        json: { caller, target, callId, ...(partnerLeg ? { partnerLeg } : {}) },
      });
    },
    /** The caller cancelled a held group call INVITE (RFC 3261 §9.2). */
    cancelCall(callId: string) {
      return request<unknown>('POST', '/edge/calls/cancel', { json: { callId } });
    },
    publishAffiliation(assertedIdentity: string, pidf: string) {
      return request<{ mcpttId: string; clientId: string; affiliations: AffiliationOutcome[] }>(
        'POST',
        '/edge/affiliations',
        {
          raw: pidf,
          contentType: 'application/pidf+xml',
          headers: { 'x-mcptt-asserted-identity': assertedIdentity },
        },
      );
    },
  };
};

export type FunctionsClient = ReturnType<typeof createFunctionsClient>;
