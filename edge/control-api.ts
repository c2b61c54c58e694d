/**
 * The edge control API: how functions make the edge act on SIP (ARCHITECTURE.md, "SIP edge").
 * HTTP on a private address, bearer-token authenticated. In the spirit of jambonz verbs and
 * Amazon Chime SIP media application actions, shaped for MCPTT group calls:
 *
 *   POST /v1/legs                     originate INVITEs to a batch of members (one dialog each,
 *                                     SDP + mcptt-info body); each final response is reported
 *                                     to `reportUrl` and kept for GET
 *   GET  /v1/legs/{legId}?callId=…    a leg's state and outcome
 *   POST /v1/legs/{legId}/cancel      CANCEL a pending leg (§9.1)
 *   POST /v1/legs/{legId}/bye         BYE a confirmed leg (§15.1.1)
 *   POST /v1/legs/end                 CANCEL or BYE several legs of one call in one request
 *   POST /v1/held/{heldId}/final      the final response of an INVITE held for the functions
 *   POST /v1/messages                 SIP MESSAGE (RFC 3428) to members, e.g. regroup notifications
 *   GET  /v1/health                   live transactions, calls, legs, held INVITEs
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { buildMcpttBody } from '../sip/message/multipart.ts';
import { endpointOfUri } from './contact-endpoint.ts';
import { type LegRecord, LegRecords, legView } from './leg-records.ts';
import { createLegReportBatcher } from './leg-report-batcher.ts';
import type { SipEdge } from './sip-edge.ts';

const header = z.tuple([
  z
    .string()
    .regex(/^[A-Za-z0-9!%*_+`'~.-]+$/, 'header name must be a token')
    .refine(
      (n) =>
        ![
          'via',
          'call-id',
          'cseq',
          'from',
          'to',
          'contact',
          'content-length',
          'content-type',
          'max-forwards',
        ].includes(n.toLowerCase()),
      'header is set by the edge',
    ),
  z
    .string()
    .max(2048)
    .regex(/^[^\r\n]*$/, 'header value must be one line'),
]);

/** A SIP or SIPS URI field, with the field named in the error. */
const sipUri = (field: string, max: number) =>
  z
    .string()
    .regex(/^sips?:/, `${field} must be a SIP URI`)
    .max(max);

const OriginateRequest = z.strictObject({
  /** The functions' call identifier; legs are named within it. */
  callId: z.string().min(1).max(256),
  from: sipUri('from', 512),
  displayName: z.string().max(128).optional(),
  /** Where each leg's final response is POSTed (JSON); optional. */
  reportUrl: z.url({ protocol: /^https?$/ }).optional(),
  sdp: z.string().max(16_384).optional(),
  mcpttInfo: z.string().max(16_384).optional(),
  headers: z.array(header).max(20).optional(),
  legs: z
    .array(
      z.strictObject({
        legId: z.string().min(1).max(128),
        /** The member's identity (To). */
        target: sipUri('target', 512),
        /** Where to send the INVITE (the member's registered contact); default: target. */
        contact: sipUri('contact', 1024).optional(),
        /** Where to send it when not to the Request-URI: a partner system's edge (outbound proxy). */
        nextHop: sipUri('nextHop', 512).optional(),
        /** Header fields for this leg only (e.g. a partner leg's signature), after the batch's. */
        headers: z.array(header).max(20).optional(),
      }),
    )
    .min(1)
    .max(2000),
});

const EndLegsRequest = z.strictObject({
  callId: z.string().min(1).max(256),
  legs: z
    .array(z.strictObject({ legId: z.string().min(1).max(128), action: z.enum(['cancel', 'bye']) }))
    .min(1)
    .max(5000),
});

const MessageRequest = z.strictObject({
  from: sipUri('from', 512),
  contentType: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[^\r\n]*$/),
  body: z.string().max(16_384),
  targets: z
    .array(
      z.strictObject({
        target: sipUri('target', 512),
        contact: sipUri('contact', 1024).optional(),
      }),
    )
    .min(1)
    .max(5000),
});

const HeldFinalRequest = z.strictObject({
  status: z.number().int().min(200).max(699),
  reason: z
    .string()
    .max(128)
    .regex(/^[^\r\n]*$/)
    .optional(),
  sdp: z.string().max(16_384).optional(),
  body: z.strictObject({ contentType: z.string().max(256), data: z.string().max(65_536) }).optional(),
  headers: z.array(header).max(20).optional(),
});

export interface ControlApiOptions {
  edge: SipEdge;
  host?: string;
  port: number;
  token: string;
  /** Bearer token sent with reports to `reportUrl` (the system's edge token). */
  reportToken?: string;
  fetch?: typeof fetch;
  log?: (line: string) => void;
}

export interface ControlApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * How long a call's legs stay queryable (GET /v1/legs/{id}) and a retried batch is recognized, after the
 * call's last batch, once all of them ended or failed; a pending or answered leg stays as long as it
 * lives (its CANCEL or BYE needs it).
 */
const RETENTION_MS = 60_000;

const send = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

const readBody = (req: IncomingMessage, limit = 4 * 1024 * 1024): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

export const startControlApi = async (opts: ControlApiOptions): Promise<ControlApi> => {
  const records = new LegRecords(RETENTION_MS);
  const doFetch = opts.fetch ?? fetch;
  const log = opts.log ?? (() => undefined);
  const token = Buffer.from(opts.token);

  const authorized = (req: IncomingMessage): boolean => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const given = Buffer.from(m?.[1] ?? '');
    return given.length === token.length && timingSafeEqual(given, token);
  };

  const sendReports = async (url: string, reports: readonly unknown[]) => {
    const payload = reports.length === 1 ? reports[0] : { reports };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const r = await doFetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(opts.reportToken ? { authorization: `Bearer ${opts.reportToken}` } : {}),
          },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(3000),
        });
        if (r.ok || (r.status >= 400 && r.status < 500)) return;
      } catch {
        // retried below
      }
      await new Promise((res) => setTimeout(res, 100 * 2 ** attempt));
    }
    log(`leg report (${reports.length}) to ${url} failed after 3 attempts`);
  };
  const reports = createLegReportBatcher({ send: sendReports });

  /**
   * CANCEL (§9.1) a ringing leg or BYE (§15.1.1) an answered one; false when the leg is not in that
   * state. A BYE ends the dialog: the leg's `onEnded` marks the record ended and lets the leg go.
   */
  const endLeg = (record: LegRecord, action: 'cancel' | 'bye'): boolean =>
    (action === 'cancel' ? record.leg?.cancel() : record.leg?.bye()) ?? false;

  const originate = (input: z.infer<typeof OriginateRequest>) => {
    records.prune();
    const body =
      input.sdp && input.mcpttInfo
        ? (() => {
            const mp = buildMcpttBody(input.sdp, input.mcpttInfo);
            return { contentType: mp.contentType, data: mp.body };
          })()
        : input.sdp
          ? { contentType: 'application/sdp', data: Buffer.from(input.sdp) }
          : undefined;
    return input.legs.map((l) => {
      const existing = records.get(input.callId, l.legId);
      // Idempotent per (callId, legId): a retried batch never invites a member twice.
      if (existing) return { legId: l.legId, sipCallId: existing.sipCallId, duplicate: true };
      const record = records.add(input.callId, l.legId, l.target);
      const destination = l.nextHop ? endpointOfUri(l.nextHop) : undefined;
      const leg = opts.edge.originate({
        target: l.contact ?? l.target,
        ...(destination ? { destination } : {}),
        to: l.target,
        from: { uri: input.from, ...(input.displayName ? { displayName: input.displayName } : {}) },
        ...(body ? { body } : {}),
        ...(input.headers || l.headers ? { headers: [...(input.headers ?? []), ...(l.headers ?? [])] } : {}),
        onFinal: (outcome) => {
          const { body: answer, ...rest } = outcome;
          const recorded = {
            ...rest,
            ...(answer && answer.length > 0 ? { body: answer.toString('utf8') } : {}),
          };
          records.final(record, recorded);
          if (input.reportUrl) {
            reports.add(input.reportUrl, {
              callId: input.callId,
              legId: l.legId,
              target: l.target,
              ...recorded,
            });
          }
        },
        onEnded: () => records.settle(record, 'ended'),
      });
      record.leg = leg?.state === 'failed' || leg?.state === 'ended' ? undefined : leg;
      if (leg) record.sipCallId = leg.sipCallId;
      if (!leg) records.settle(record, 'failed', { status: 400, reason: 'no route to the contact' });
      return { legId: l.legId, sipCallId: leg?.sipCallId };
    });
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        if (!authorized(req))
          return send(res, 401, { error: 'unauthenticated', message: 'bearer token required' });
        const url = new URL(req.url ?? '/', 'http://edge');
        const path = url.pathname;
        const method = req.method ?? 'GET';
        if (method === 'GET' && path === '/v1/health') {
          return send(res, 200, {
            status: 'ok',
            domain: opts.edge.domain,
            transactions: opts.edge.transactions.size(),
            calls: opts.edge.callCount(),
            legs: opts.edge.legCount(),
            held: opts.edge.heldCount(),
          });
        }
        const parseJson = async <S extends z.ZodType>(schema: S): Promise<z.infer<S> | undefined> => {
          let json: unknown;
          try {
            json = JSON.parse(await readBody(req));
          } catch (e) {
            send(res, 400, { error: 'bad_request', message: `malformed JSON: ${(e as Error).message}` });
            return undefined;
          }
          const parsed = schema.safeParse(json);
          if (!parsed.success) {
            const message = parsed.error.issues
              .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
              .join('; ');
            send(res, 400, { error: 'bad_request', message: `invalid request: ${message}` });
            return undefined;
          }
          return parsed.data;
        };
        if (method === 'POST' && path === '/v1/legs') {
          const input = await parseJson(OriginateRequest);
          if (!input) return;
          const ids = input.legs.map((l) => l.legId);
          if (new Set(ids).size !== ids.length)
            return send(res, 400, { error: 'bad_request', message: 'legId values must be unique' });
          return send(res, 202, { callId: input.callId, legs: originate(input) });
        }
        if (method === 'POST' && path === '/v1/legs/end') {
          const input = await parseJson(EndLegsRequest);
          if (!input) return;
          return send(res, 200, {
            legs: input.legs.map(({ legId, action }) => {
              const record = records.get(input.callId, legId);
              if (!record) return { legId, action, found: false, done: false };
              return { legId, action, found: true, done: endLeg(record, action) };
            }),
          });
        }
        const legMatch = /^\/v1\/legs\/([^/]+)(?:\/(cancel|bye))?$/.exec(path);
        if (legMatch?.[1]) {
          const callId = url.searchParams.get('callId');
          if (!callId)
            return send(res, 400, { error: 'bad_request', message: 'callId query parameter required' });
          const record = records.get(callId, decodeURIComponent(legMatch[1]));
          if (!record) return send(res, 404, { error: 'not_found', message: 'no such leg' });
          const action = legMatch[2];
          if (method === 'GET' && !action) return send(res, 200, legView(record));
          if (method === 'POST' && action === 'cancel')
            return send(res, 200, { cancelled: endLeg(record, 'cancel') });
          if (method === 'POST' && action === 'bye') return send(res, 200, { bye: endLeg(record, 'bye') });
        }
        if (method === 'POST' && path === '/v1/messages') {
          const input = await parseJson(MessageRequest);
          if (!input) return;
          let sent = 0;
          for (const t of input.targets) {
            if (
              opts.edge.sendMessage({
                target: t.contact ?? t.target,
                to: t.target,
                from: input.from,
                contentType: input.contentType,
                body: input.body,
              })
            )
              sent++;
          }
          return send(res, 202, { sent, skipped: input.targets.length - sent });
        }
        const heldMatch = /^\/v1\/held\/([^/]+)\/final$/.exec(path);
        if (method === 'POST' && heldMatch?.[1]) {
          const input = await parseJson(HeldFinalRequest);
          if (!input) return;
          const ok = opts.edge.finishHeld(decodeURIComponent(heldMatch[1]), {
            status: input.status,
            ...(input.reason ? { reason: input.reason } : {}),
            ...(input.sdp ? { sdp: input.sdp } : {}),
            ...(input.body ? { body: input.body } : {}),
            ...(input.headers ? { headers: input.headers } : {}),
          });
          return ok
            ? send(res, 200, { sent: true })
            : send(res, 404, {
                error: 'not_found',
                message: 'no such held INVITE (answered, cancelled or timed out)',
              });
        }
        send(res, 404, { error: 'not_found', message: `no route ${method} ${path}` });
      } catch (e) {
        log(`control API error: ${(e as Error).message}`);
        if (!res.headersSent) send(res, 500, { error: 'internal', message: 'internal error' });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
};
