/**
 * The edge's HTTP client for its own system's functions (the `edge` routes of lib/routes.ts).
 * Locally it authenticates with the system's edge bearer token; in AWS the same routes use IAM
 * authorization: with a `signer` (SigV4, {@link createSigV4Signer}) every request is signed with the
 * task role's credentials instead. Every call has a timeout; failures become `FunctionsError` with the
 * status.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';

export interface FunctionsClientOptions {
  /** Base URL of the system's HTTP API, e.g. http://127.0.0.1:8060 */
  baseUrl: string;
  /** Bearer token of the `edge` routes (local runtime); not sent when `signer` is given. */
  edgeToken?: string;
  /** Signs each request (AWS: SigV4 for the IAM-authorized `edge` routes) instead of the bearer token. */
  signer?: RequestSigner;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Adds authentication headers to one request. */
export interface RequestSigner {
  /** The headers to send: `headers` plus the signature's (`authorization`, `x-amz-date`, …). */
  sign(request: {
    method: string;
    url: URL;
    headers: Record<string, string>;
    body?: string;
  }): Promise<Record<string, string>>;
}

/** Temporary or long-term AWS credentials. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** SHA-256 and HMAC-SHA-256 for the signer, from node:crypto. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytesOf = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

class NodeSha256 {
  private hash: Hash | Hmac;
  private readonly secret: string | Uint8Array | undefined;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytesOf(secret);
    this.hash = this.create();
  }
  private create(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.create();
  }
}

/**
 * AWS Signature Version 4 for API Gateway (`execute-api`): what an IAM-authorized HTTP API route
 * requires. Credentials default to the AWS SDK's chain (in ECS: the task role, from the container
 * credentials endpoint), refreshed when they expire.
 */
export const createSigV4Signer = (opts: {
  region: string;
  /** @default execute-api */
  service?: string;
  /** @default the SDK's default credential chain */
  credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
  /** Clock of the signature (tests). */
  now?: () => Date;
}): RequestSigner => {
  const signer = new SignatureV4({
    service: opts.service ?? 'execute-api',
    region: opts.region,
    credentials: opts.credentials ?? defaultProvider(),
    sha256: NodeSha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
  return {
    async sign({ method, url, headers, body }) {
      const query: Record<string, string | string[]> = {};
      for (const key of new Set(url.searchParams.keys())) {
        const values = url.searchParams.getAll(key);
        query[key] = values.length === 1 ? (values[0] as string) : values;
      }
      const signed = await signer.sign(
        {
          method,
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          path: url.pathname,
          query,
          headers: { ...headers, host: url.host },
          ...(body !== undefined ? { body } : {}),
        },
        opts.now ? { signingDate: opts.now() } : {},
      );
      const out: Record<string, string> = {};
      for (const [name, value] of Object.entries(signed.headers)) {
        // fetch sets Host itself (the same value that was signed).
        if (name.toLowerCase() !== 'host') out[name] = String(value);
      }
      return out;
    },
  };
};

/** The region of an API Gateway URL (`https://<id>.execute-api.<region>.amazonaws.com/…`), if it is one. */
export const regionOfApiUrl = (url: string): string | undefined =>
  /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/i.exec(new URL(url).hostname)?.[1];

/**
 * A `fetch` that signs the requests to `origin` (e.g. the edge control API's leg reports to the
 * system's `edge` routes) and passes every other request through unsigned.
 */
export const createSigningFetch = (signer: RequestSigner, origin: string, inner: typeof fetch = fetch) => {
  const allowed = new URL(origin).origin;
  return async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    if (url.origin !== allowed) return inner(input, init);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => {
      // A bearer token meant for the local runtime is not sent along with a signature.
      if (name !== 'authorization') headers[name] = value;
    });
    if (init.body !== undefined && init.body !== null && typeof init.body !== 'string') {
      throw new Error('createSigningFetch: only string bodies can be signed');
    }
    const body = (init.body ?? undefined) as string | undefined;
    const signed = await signer.sign({
      method: init.method ?? 'GET',
      url,
      headers,
      ...(body ? { body } : {}),
    });
    return inner(url, { ...init, headers: signed });
  };
};

/** INVITEs asked about in one `POST /edge/calls` at most (the function accepts 100). */
export const MAX_ROUTE_BATCH = 50;

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
  if (opts.signer === undefined && opts.edgeToken === undefined) {
    throw new Error('createFunctionsClient: give edgeToken (bearer) or signer (SigV4)');
  }
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 5000;
  /** routeCall requests waiting for the end of the current turn (see routeCall). */
  interface PendingRoute {
    json: Record<string, unknown>;
    resolve: (r: CallRoute) => void;
    reject: (e: unknown) => void;
  }
  const routeQueue: PendingRoute[] = [];
  let routeFlushScheduled = false;
  const routeOne = (p: PendingRoute) =>
    request<CallRoute>('POST', '/edge/calls', { json: p.json }).then(p.resolve, p.reject);
  const flushRoutes = () => {
    routeFlushScheduled = false;
    while (routeQueue.length > 0) {
      const batch = routeQueue.splice(0, MAX_ROUTE_BATCH);
      if (batch.length === 1) {
        void routeOne(batch[0] as PendingRoute);
        continue;
      }
      void request<{ routes: CallRoute[] }>('POST', '/edge/calls', {
        json: { calls: batch.map((p) => p.json) },
      }).then(
        (out) =>
          batch.forEach((p, i) => {
            const route = out.routes?.[i];
            if (route) p.resolve(route);
            else p.reject(new FunctionsError('no route in the batch answer', 502, out));
          }),
        (e: unknown) => {
          // One request the function refused (400) must not fail the others: ask one by one.
          if (e instanceof FunctionsError && e.status === 400) for (const p of batch) void routeOne(p);
          else for (const p of batch) p.reject(e);
        },
      );
    }
  };

  const request = async <T>(
    method: 'GET' | 'POST',
    path: string,
    body?: { json?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> },
  ): Promise<T> => {
    let headers: Record<string, string> = {
      ...(opts.signer ? {} : { authorization: `Bearer ${opts.edgeToken}` }),
      ...body?.headers,
    };
    let payload: string | undefined;
    if (body?.json !== undefined) {
      payload = JSON.stringify(body.json);
      headers['content-type'] = 'application/json';
    } else if (body?.raw !== undefined) {
      payload = body.raw;
      headers['content-type'] = body.contentType ?? 'application/octet-stream';
    }
    const url = `${opts.baseUrl}${path}`;
    if (opts.signer) {
      headers = await opts.signer.sign({
        method,
        url: new URL(url),
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
      });
    }
    const res = await doFetch(url, {
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
    /**
     * Where an INVITE goes (functions/call-routing). INVITEs that arrive in the same turn of the event
     * loop (the legs of a group call reaching a partner's edge together) are asked about in one request
     * (`{ calls: [...] }`, at most {@link MAX_ROUTE_BATCH}); a lone INVITE in a request of its own.
     */
    routeCall(
      caller: string,
      target: string,
      callId: string,
      partnerLeg?: { headers: Record<string, string>; tgi: string },
      edgeUrl?: string,
    ): Promise<CallRoute> {
      return new Promise<CallRoute>((resolve, reject) => {
        routeQueue.push({
          json: {
            caller,
            target,
            callId,
            ...(partnerLeg ? { partnerLeg } : {}),
            ...(edgeUrl ? { edgeUrl } : {}),
          },
          resolve,
          reject,
        });
        if (!routeFlushScheduled) {
          routeFlushScheduled = true;
          setImmediate(flushRoutes);
        }
      });
    },
    /** The caller cancelled a held group call INVITE (RFC 3261 §9.2). */
    cancelCall(callId: string) {
      return request<unknown>('POST', '/edge/calls/cancel', { json: { callId } });
    },
    /** The initiator hung up an established group call: the functions end the members' legs. */
    releaseCall(callId: string) {
      return request<unknown>('POST', '/edge/calls/release', { json: { callId } });
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
