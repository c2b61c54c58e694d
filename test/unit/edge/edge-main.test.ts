/**
 * The SIP edge container's entry point (edge/main.ts) and the SigV4 option of the functions client:
 * configuration from the environment, start on loopback, health and drain, signed calls to the
 * `edge` routes, the EMF writer, and the bundle the Dockerfile builds.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createFunctionsClient,
  createSigningFetch,
  createSigV4Signer,
  regionOfApiUrl,
} from '../../../edge/functions-client.ts';
import {
  edgeConfigFromEnv,
  emfWriter,
  type RunningEdge,
  startEdge,
  taskControlUrl,
} from '../../../edge/main.ts';

const BASE = {
  SYSTEM_DOMAIN: 'Primary.Example',
  API_URL: 'http://127.0.0.1:9/',
  EDGE_CONTROL_TOKEN: 'control-token',
};
const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

describe('edgeConfigFromEnv', () => {
  it('reads the defaults of the container', () => {
    expect(edgeConfigFromEnv(BASE)).toEqual({
      domain: 'primary.example',
      apiUrl: 'http://127.0.0.1:9',
      apiAuth: 'bearer',
      token: { value: 'control-token' },
      host: '0.0.0.0',
      sipPort: 5060,
      controlPort: 8061,
      healthPort: 8062,
      drainTimeoutMs: 30_000,
    });
  });

  it('takes the token from Secrets Manager by ARN, and IAM auth with the region of the API URL', () => {
    const config = edgeConfigFromEnv({
      SYSTEM_DOMAIN: 'primary.example',
      API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com',
      API_AUTH: 'iam',
      EDGE_CONTROL_TOKEN_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x',
      EDGE_METRICS_ENDPOINT: 'udp://127.0.0.1:25888',
      EDGE_METRICS_LOG_GROUP: 'metrics',
    });
    expect(config).toMatchObject({
      apiAuth: 'iam',
      region: 'eu-west-1',
      token: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x' },
      metricsEndpoint: 'udp://127.0.0.1:25888',
      metricsLogGroup: 'metrics',
    });
  });

  it.each([
    [{ ...BASE, SYSTEM_DOMAIN: '' }, /SYSTEM_DOMAIN/],
    [{ ...BASE, API_URL: 'ftp://x' }, /API_URL must be an http\(s\) URL/],
    [{ ...BASE, EDGE_CONTROL_TOKEN: undefined }, /EDGE_CONTROL_TOKEN or EDGE_CONTROL_TOKEN_ARN/],
    [{ ...BASE, API_AUTH: 'iam' }, /needs AWS_REGION/],
    [{ ...BASE, API_AUTH: 'basic' }, /API_AUTH must be iam or bearer/],
    [{ ...BASE, SIP_PORT: '70000' }, /SIP_PORT must be a port number/],
    [{ ...BASE, EDGE_CONTROL_URL: 'ftp://10.0.1.7:8061' }, /EDGE_CONTROL_URL must be an http\(s\) URL/],
    [{ ...BASE, EDGE_CONTROL_URL: 'http://10.0.1.7:8061/v1' }, /EDGE_CONTROL_URL must be an http\(s\) URL/],
  ])('rejects a wrong environment (%#)', (env, message) => {
    expect(() => edgeConfigFromEnv(env)).toThrow(message);
  });
});

describe("the edge's own control URL", () => {
  /** ECS task metadata v4 (`/task`) of a task with the edge and the CloudWatch agent containers. */
  const TASK = {
    Cluster: 'arn:aws:ecs:eu-west-1:123456789012:cluster/c',
    Containers: [
      {
        DockerId: 'agent-1',
        Name: 'cwagent',
        Networks: [{ NetworkMode: 'awsvpc', IPv4Addresses: ['10.0.1.99'] }],
      },
      {
        DockerId: 'edge-1',
        Name: 'edge',
        Networks: [{ NetworkMode: 'awsvpc', IPv4Addresses: ['10.0.1.7'] }],
      },
    ],
  };
  const metadata = (body: unknown, status = 200) => {
    const requested: string[] = [];
    const fetch = (async (url: string | URL | Request) => {
      requested.push(String(url));
      return new Response(JSON.stringify(body), { status });
    }) as typeof globalThis.fetch;
    return { fetch, requested };
  };

  it('reads the metadata endpoint and the fallback URL from the environment', () => {
    expect(
      edgeConfigFromEnv({
        ...BASE,
        ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/edge-1',
        EDGE_CONTROL_URL: 'http://edge-control.mcptt.internal:8061/',
      }),
    ).toMatchObject({
      metadataUri: 'http://169.254.170.2/v4/edge-1',
      controlUrl: 'http://edge-control.mcptt.internal:8061',
    });
  });

  it("is the task's private address (this container's first network) and the control port", async () => {
    const m = metadata(TASK);
    expect(
      await taskControlUrl({ metadataUri: 'http://169.254.170.2/v4/edge-1', port: 8061, fetch: m.fetch }),
    ).toBe('http://10.0.1.7:8061');
    expect(m.requested).toEqual(['http://169.254.170.2/v4/edge-1/task']);
    // Another container id: any container's address (awsvpc: one address per task).
    expect(
      await taskControlUrl({
        metadataUri: 'http://169.254.170.2/v4/x',
        port: 1,
        fetch: metadata(TASK).fetch,
      }),
    ).toBe('http://10.0.1.99:1');
  });

  it('is undefined when the metadata cannot be read or names no IPv4 address', async () => {
    const at = (fetch: typeof globalThis.fetch) =>
      taskControlUrl({ metadataUri: 'http://169.254.170.2/v4/edge-1', port: 8061, fetch, attempts: 2 });
    expect(await at(metadata(TASK, 500).fetch)).toBeUndefined();
    expect(await at(metadata({ Containers: [{ DockerId: 'edge-1', Networks: [] }] }).fetch)).toBeUndefined();
    expect(
      await at(metadata({ Containers: [{ Networks: [{ IPv4Addresses: ['not-an-ip'] }] }] }).fetch),
    ).toBeUndefined();
    const refused = metadata(TASK);
    const failing = (async (url: string | URL | Request) => {
      refused.requested.push(String(url));
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    expect(await at(failing)).toBeUndefined();
    expect(refused.requested).toHaveLength(2);
  });

  const running: RunningEdge[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });
  const startWith = async (env: Record<string, string>, metadataFetch?: typeof fetch) => {
    const r = await startEdge(
      edgeConfigFromEnv({
        ...BASE,
        HOST: '127.0.0.1',
        SIP_PORT: '0',
        CONTROL_PORT: '0',
        HEALTH_PORT: '0',
        ...env,
      }),
      { log: () => undefined, ...(metadataFetch ? { metadataFetch } : {}) },
    );
    running.push(r);
    return r;
  };

  it("startEdge names the task's address with the control API's port", async () => {
    const edge = await startWith(
      {
        ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/edge-1',
        EDGE_CONTROL_URL: 'http://edge-control.mcptt.internal:8061',
      },
      metadata(TASK).fetch,
    );
    expect(edge.edge.controlUrl).toBe(`http://10.0.1.7:${edge.control.port}`);
  });

  it('falls back to EDGE_CONTROL_URL without metadata, and names none without either', async () => {
    const withFallback = await startWith(
      {
        ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/edge-1',
        EDGE_CONTROL_URL: 'http://edge-control.mcptt.internal:8061',
      },
      metadata({}, 404).fetch,
    );
    expect(withFallback.edge.controlUrl).toBe('http://edge-control.mcptt.internal:8061');
    const plain = await startWith({});
    expect(plain.edge.controlUrl).toBeUndefined();
  });
});

describe('SigV4', () => {
  it('matches the AWS Signature Version 4 test suite (get-vanilla)', async () => {
    const signer = createSigV4Signer({
      region: 'us-east-1',
      service: 'service',
      credentials: CREDENTIALS,
      now: () => new Date('2015-08-30T12:36:00Z'),
    });
    const headers = await signer.sign({
      method: 'GET',
      url: new URL('https://example.amazonaws.com/'),
      headers: {},
    });
    expect(headers).toEqual({
      'x-amz-date': '20150830T123600Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
        'SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    });
  });

  it('signs the functions client requests for execute-api instead of sending the bearer token', async () => {
    const seen: { url: string; headers: Record<string, string>; body?: string }[] = [];
    const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
      seen.push({
        url: String(url),
        headers: init?.headers as Record<string, string>,
        ...(typeof init?.body === 'string' ? { body: init.body } : {}),
      });
      return new Response('{"action":"reject","status":404,"reason":"Not Found"}', { status: 200 });
    }) as typeof fetch;
    const client = createFunctionsClient({
      baseUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com',
      signer: createSigV4Signer({
        region: 'eu-west-1',
        credentials: { ...CREDENTIALS, sessionToken: 'session' },
      }),
      fetch: fakeFetch,
    });
    await client.routeCall('sip:alice@primary.example', 'sip:fire-1@primary.example', 'call-1');
    const [request] = seen;
    expect(request?.url).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com/edge/calls');
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    expect(request?.headers['x-amz-security-token']).toBe('session');
    expect(request?.headers.host).toBeUndefined();
    expect(JSON.parse(request?.body ?? '{}')).toEqual({
      caller: 'sip:alice@primary.example',
      target: 'sip:fire-1@primary.example',
      callId: 'call-1',
    });
    await client.routeCall(
      'sip:alice@primary.example',
      'sip:tg@primary.example',
      'call-2',
      undefined,
      'http://10.0.1.7:8061',
    );
    expect(JSON.parse(seen[1]?.body ?? '{}')).toMatchObject({
      callId: 'call-2',
      edgeUrl: 'http://10.0.1.7:8061',
    });
  });

  it('keeps the bearer token path unchanged', async () => {
    let headers: Record<string, string> = {};
    const client = createFunctionsClient({
      baseUrl: 'http://127.0.0.1:1',
      edgeToken: 'tok',
      fetch: (async (_url: string | URL | Request, init?: RequestInit) => {
        headers = init?.headers as Record<string, string>;
        return new Response('{"mcpttId":"x","bindings":[]}', { status: 200 });
      }) as typeof fetch,
    });
    await client.bindings('sip:alice@primary.example');
    expect(headers).toEqual({ authorization: 'Bearer tok' });
    expect(() => createFunctionsClient({ baseUrl: 'http://x' })).toThrow(/edgeToken .* or signer/);
  });

  it('signs only requests to the API origin, dropping a bearer token', async () => {
    const calls: { url: string; headers: Headers | Record<string, string> }[] = [];
    const inner = (async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), headers: init?.headers as Record<string, string> });
      return new Response('ok');
    }) as typeof fetch;
    const signed = createSigningFetch(
      createSigV4Signer({ region: 'eu-west-1', credentials: CREDENTIALS }),
      'https://abc123.execute-api.eu-west-1.amazonaws.com',
      inner,
    );
    await signed('https://abc123.execute-api.eu-west-1.amazonaws.com/edge/leg-results', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
      body: '{"reports":[]}',
    });
    await signed('https://elsewhere.example/report', { method: 'POST', body: '{}' });
    expect((calls[0]?.headers as Record<string, string> | undefined)?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 /,
    );
    expect(calls[1]?.url).toBe('https://elsewhere.example/report');
    expect(calls[1]?.headers).toBeUndefined();
    expect(regionOfApiUrl('https://abc.execute-api.ap-southeast-2.amazonaws.com/x')).toBe('ap-southeast-2');
    expect(regionOfApiUrl('http://127.0.0.1:8060')).toBeUndefined();
  });
});

describe('startEdge', () => {
  let running: RunningEdge | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  const start = (env: Record<string, string>) =>
    startEdge(
      edgeConfigFromEnv({
        ...BASE,
        HOST: '127.0.0.1',
        SIP_PORT: '0',
        CONTROL_PORT: '0',
        HEALTH_PORT: '0',
        ...env,
      }),
      { log: () => undefined },
    );

  it('serves SIP, the control API and health on loopback; health answers 503 while draining', async () => {
    running = await start({ DRAIN_TIMEOUT_MS: '300' });
    expect(running.edge.udp.port).toBeGreaterThan(0);
    const health = await fetch(`${running.health.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({
      status: 'ok',
      domain: 'primary.example',
      transactions: 0,
      calls: 0,
      legs: 0,
      held: 0,
    });
    expect((await fetch(`${running.health.url}/other`)).status).toBe(404);
    const control = await fetch(`${running.control.url}/v1/health`, {
      headers: { authorization: 'Bearer control-token' },
    });
    expect(control.status).toBe(200);
    // Keep one transaction open so that the drain waits, then check health during it.
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = (sock.address() as AddressInfo).port;
    const options = [
      'OPTIONS sip:primary.example SIP/2.0',
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-drain-1`,
      'Max-Forwards: 70',
      'From: <sip:probe@primary.example>;tag=1',
      'To: <sip:primary.example>',
      'Call-ID: drain-1',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const answered = new Promise<void>((r) => sock.once('message', () => r()));
    sock.send(options, running.edge.udp.port, '127.0.0.1');
    await answered;
    const draining = running.drain();
    const during = await fetch(`${running.health.url}/health`).catch(() => undefined);
    if (during) expect(during.status).toBe(503);
    await draining;
    sock.close();
    running = undefined;
  });

  it('reads the token through the given secret reader', async () => {
    const reads: string[] = [];
    running = await startEdge(
      edgeConfigFromEnv({
        ...BASE,
        EDGE_CONTROL_TOKEN: undefined,
        EDGE_CONTROL_TOKEN_ARN: 'arn:secret',
        HOST: '127.0.0.1',
        SIP_PORT: '0',
        CONTROL_PORT: '0',
        HEALTH_PORT: '0',
      }),
      {
        log: () => undefined,
        readToken: async (arn) => {
          reads.push(arn);
          return 'from-secret';
        },
      },
    );
    expect(reads).toEqual(['arn:secret']);
    const control = await fetch(`${running.control.url}/v1/health`, {
      headers: { authorization: 'Bearer from-secret' },
    });
    expect(control.status).toBe(200);
  });
});

describe('emfWriter', () => {
  it('sends each line as one datagram, naming the log group for the CloudWatch agent', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const received = new Promise<string>((r) => sock.once('message', (m) => r(m.toString('utf8'))));
    const writer = emfWriter(`udp://127.0.0.1:${(sock.address() as AddressInfo).port}`, 'edge-metrics');
    writer.write(JSON.stringify({ _aws: { Timestamp: 1, CloudWatchMetrics: [] }, System: 'p.example' }));
    const line = await received;
    expect(JSON.parse(line)).toEqual({
      _aws: { Timestamp: 1, CloudWatchMetrics: [], LogGroupName: 'edge-metrics' },
      System: 'p.example',
    });
    writer.close();
    sock.close();
    expect(() => emfWriter('http://127.0.0.1:1', undefined)).toThrow(/udp:\/\/host:port/);
  });
});

describe('the container bundle (npm run build:edge)', () => {
  it('builds dist/edge.mjs that starts from the environment and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-bundle-'));
    try {
      const outfile = join(dir, 'edge.mjs');
      const build = spawn(process.execPath, ['--import', 'tsx', 'scripts/build-edge.ts', outfile], {
        stdio: 'pipe',
      });
      const built = await new Promise<number>((r) => build.on('exit', (code) => r(code ?? 1)));
      expect(built).toBe(0);
      // Also the task metadata endpoint: the edge names the task's address as its control URL.
      const api = createServer((req, res) =>
        res.end(
          req.url === '/v4/edge-1/task'
            ? JSON.stringify({
                Containers: [{ DockerId: 'edge-1', Networks: [{ IPv4Addresses: ['10.0.1.7'] }] }],
              })
            : '{}',
        ),
      );
      await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
      const child = spawn(process.execPath, [outfile], {
        env: {
          PATH: process.env.PATH ?? '',
          SYSTEM_DOMAIN: 'primary.example',
          API_URL: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
          EDGE_CONTROL_TOKEN: 'tok',
          HOST: '127.0.0.1',
          SIP_PORT: '0',
          CONTROL_PORT: '0',
          HEALTH_PORT: '0',
          DRAIN_TIMEOUT_MS: '0',
          ECS_CONTAINER_METADATA_URI_V4: `http://127.0.0.1:${(api.address() as AddressInfo).port}/v4/edge-1`,
        },
        stdio: 'pipe',
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`edge did not start: ${out}`)), 15_000);
        child.stdout.on('data', () => {
          if (out.includes('SIP edge ready')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(out).toMatch(/SIP edge ready: udp\+tcp 127\.0\.0\.1:\d+/);
      expect(out).toMatch(/control :(\d+) \(named as http:\/\/10\.0\.1\.7:\1\)/);
      expect(out).toContain('SIGTERM: draining');
      api.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
