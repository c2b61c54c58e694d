/**
 * The SIP edge of one MCPTT system: the only door between SIP clients and the functions.
 * Transport (UDP+TCP, RFC 3261 §18) → transactions (§17) → this dispatcher, which checks every
 * request (§8.2), authenticates it (§22), and turns it into calls to the system's functions:
 * REGISTER → registration, PUBLISH → affiliation, INVITE → call routing (relay as a B2BUA, 302
 * redirection, or refusal). It keeps no state beyond live transactions and calls.
 */

import { TGI_HEADER } from '../core/partner-leg.ts';
import type { DigestAlgorithm } from '../sip/auth/digest.ts';
import { callIdOf, createResponse, parseNameAddr, toTag } from '../sip/message/accessors.ts';
import { parseMessage, validateRequestHeaders } from '../sip/message/parser.ts';
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from '../sip/message/types.ts';
import { newBranch, newTag } from '../sip/transaction/random.ts';
import type { TimerConfig } from '../sip/transaction/timers.ts';
import { type ServerTransaction, TransactionLayer } from '../sip/transaction/transaction-layer.ts';
import { createTransportLayer, type TransportLayer } from '../sip/transport/transport-layer.ts';
import type { Endpoint, InboundMessage } from '../sip/transport/types.ts';
import { B2buaCall, type CallLegIo } from './b2bua-call.ts';
import { endpointOfUri } from './contact-endpoint.ts';
import { EdgeAuth } from './edge-auth.ts';
import { type EdgeMetricsOptions, startEdgeMetrics } from './edge-metrics.ts';
import type { FunctionsClient } from './functions-client.ts';
import { OutboundLeg, type OutboundLegIo, type OutboundLegOptions } from './outbound-leg.ts';
import { handlePublish } from './presence.ts';
import { handleRegister } from './registrar.ts';
import { ACCEPTED_TYPES, ALLOWED_METHODS, checkRequest } from './request-checks.ts';
import { UasCall } from './uas-call.ts';

export interface SipEdgeOptions {
  domain: string;
  host?: string;
  /**
   * The name or address members reach the edge by, put in Via sent-by and Contact (RFC 3261 §18.1.1,
   * §8.1.1.8) when the bind address is not reachable (a container binding 0.0.0.0 behind a load
   * balancer). Default: the bind host.
   */
  advertisedHost?: string;
  /** UDP and TCP port (one number: Via sent-by ports are valid for both). */
  port: number;
  functions: FunctionsClient;
  /** Secret for stateless digest nonces (shared by every edge instance of the system). */
  authSecret: Buffer;
  timers?: Partial<TimerConfig>;
  /** Digest algorithms offered, most preferred first (default SHA-256, MD5). */
  digestAlgorithms?: readonly DigestAlgorithm[];
  /**
   * Whether requests must carry digest credentials (default true). Only benchmarks that put the
   * edge behind a trusted load generator turn it off; it cannot be set from a configuration file.
   */
  authenticate?: boolean;
  /** Diagnostics (one line per event); default silent. */
  log?: (line: string) => void;
  /**
   * CloudWatch metrics as EMF lines every period (edge/edge-metrics.ts): SipTransactions,
   * SipRetransmissions, EdgeActiveTransactions. Default off (the local runtime keeps it off).
   */
  metrics?: boolean | EdgeMetricsOptions;
  /**
   * This edge's own control API (`http://<address>:<port>`), sent with every `routeCall` so that the
   * functions act on a call this edge holds (its held INVITE, its member legs) here and not at any
   * task of the system. Usually set later, through {@link SipEdge.controlUrl}, once the control API
   * listens. Default: none (the functions then use their configured edge).
   */
  controlUrl?: string;
}

export interface SipEdge {
  domain: string;
  udp: Endpoint;
  tcp: Endpoint;
  transport: TransportLayer;
  transactions: TransactionLayer;
  /** Live relayed and answered calls. */
  callCount(): number;
  /** Originates one INVITE dialog (the edge as UAC) — used by the edge control API. */
  originate(
    opts: Omit<OutboundLegOptions, 'destination'> & { destination?: Endpoint },
  ): OutboundLeg | undefined;
  /** Outgoing dialogs by SIP Call-ID. */
  legCount(): number;
  /** Sends a SIP MESSAGE (RFC 3428) outside any dialog; false when the target has no route. */
  sendMessage(m: { target: string; to: string; from: string; contentType: string; body: string }): boolean;
  /** Sends the final response of an INVITE the functions asked to hold; false when it is gone. */
  finishHeld(heldId: string, final: HeldFinal): boolean;
  heldCount(): number;
  /** This edge's own control API, sent with each `routeCall` ({@link SipEdgeOptions.controlUrl}). */
  controlUrl: string | undefined;
  stop(): Promise<void>;
}

const warningHeader = (
  domain: string,
  code: number | undefined,
  text: string | undefined,
): [string, string][] =>
  text ? [['Warning', `399 ${domain} "${code ? `${code} ` : ''}${text.replace(/["\\\r\n]/g, ' ')}"`]] : [];

/** The From URI of a request (the caller, when requests are trusted without digest). */
const fromUri = (req: SipRequest): string => {
  try {
    return parseNameAddr(req.headers.get('From') ?? '', 'From').uri;
  } catch {
    return 'sip:anonymous@anonymous.invalid';
  }
};

/** The final response functions choose for a held INVITE. */
export interface HeldFinal {
  status: number;
  reason?: string;
  sdp?: string;
  /** A body other than SDP (e.g. multipart with the call setup result). */
  body?: { contentType: string; data: string };
  headers?: [string, string][];
}

/** How long a held INVITE waits for its final response before the edge answers 408 itself. */
export const HOLD_TIMEOUT_MS = 60_000;

/** RFC 3261 §8.2.6.2: a final response the edge builds itself carries a To tag. */
const withToTag = (res: SipResponse): SipResponse => {
  if (res.status < 200) return res;
  const to = res.headers.get('To');
  if (to !== undefined && toTag(res) === undefined) res.headers.set('To', `${to};tag=${newTag()}`);
  return res;
};

/** The signature header fields and TGI of an invitation from a partner system. */
const partnerLegOf = (req: SipRequest): { headers: Record<string, string>; tgi: string } | undefined => {
  const headers: Record<string, string> = {};
  req.headers.forEach((name, value) => {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-mcptt-') && lower !== 'x-mcptt-tgi') headers[lower] = value.trim();
  });
  const tgi = req.headers.get(TGI_HEADER);
  return tgi ? { headers, tgi: tgi.trim() } : undefined;
};

export const startSipEdge = async (opts: SipEdgeOptions): Promise<SipEdge> => {
  const host = opts.host ?? '127.0.0.1';
  const advertised = opts.advertisedHost ?? host;
  const log = opts.log ?? (() => undefined);
  // Port 0: TCP takes the port UDP got, so one Via sent-by port serves both transports.
  const transport = await createTransportLayer({
    host,
    udpPort: opts.port,
    ...(opts.port === 0 ? {} : { tcpPort: opts.port }),
  });
  const tl = new TransactionLayer(transport, {
    // Timer C (RFC 3261 §16.6 step 11): a relayed or originated INVITE cannot ring forever.
    inviteTimerC: true,
    ...(opts.timers ? { timers: opts.timers } : {}),
    onError: (e) => log(`transaction callback error: ${e.message}`),
  });
  const auth = new EdgeAuth(opts.domain, opts.functions, opts.authSecret, Date.now, opts.digestAlgorithms);
  const calls = new Map<string, B2buaCall>();
  const answered = new Map<string, UasCall>();
  /** Answered group calls: SIP Call-ID → the functions' call id (whose members a BYE releases). */
  const groupCalls = new Map<string, string>();
  const legs = new Map<string, OutboundLeg>();
  const held = new Map<string, { tx: ServerTransaction; inbound: InboundMessage; timer: NodeJS.Timeout }>();
  const whoIs = async (req: SipRequest) =>
    opts.authenticate === false ? ({ ok: true, mcpttId: fromUri(req) } as const) : auth.authenticate(req);
  const now = Date.now;
  const port = transport.local('udp').port;
  let controlUrl = opts.controlUrl;
  // 2xx retransmissions of the edge's own calls (RFC 3261 §13.3.1.4), outside the transactions.
  let callRetransmissions = 0;
  const metrics = opts.metrics
    ? startEdgeMetrics(
        opts.domain,
        () => {
          const stats = tl.stats();
          const c = stats.created;
          return {
            transactions: c.ict + c.nict + c.ist + c.nist,
            retransmissions: stats.retransmissionsSent + callRetransmissions,
            active: tl.size(),
          };
        },
        opts.metrics === true ? {} : opts.metrics,
      )
    : undefined;

  /** How the edge sends as a UAC (outgoing legs, and the callee side of relayed calls). */
  const legIo: OutboundLegIo = {
    contact: (t) => `sip:edge@${advertised}:${port}${t === 'tcp' ? ';transport=tcp' : ''}`,
    via: (t) => {
      const branch = newBranch();
      return { value: `SIP/2.0/${t.toUpperCase()} ${advertised}:${port};branch=${branch};rport`, branch };
    },
    sendInvite: (req, to, on) => {
      const ctx = tl.createClientTransaction(req, to, on);
      return { cancel: () => void tl.cancel(ctx) };
    },
    sendRequest: (req, to, onFinal) => {
      tl.createClientTransaction(req, to, {
        onResponse: (r) => {
          if (r.status >= 200) onFinal?.(r.status);
        },
        onTimeout: () => onFinal?.(408),
        onTransportError: () => onFinal?.(503),
      });
    },
    sendAck: (req, to) =>
      void Promise.resolve(transport.send(req, to)).catch((e) => log(`ACK not sent: ${e}`)),
  };

  /** The same, plus the caller side, for relayed calls (B2BUA): one object shared by every call. */
  const callIo: CallLegIo = {
    ...legIo,
    retransmitInbound: (res, to) => {
      callRetransmissions++;
      void Promise.resolve(transport.send(res, to)).catch((e) => log(`2xx retransmission not sent: ${e}`));
    },
    timers: { T1: tl.timers.T1, T2: tl.timers.T2 },
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    ended: (call) => {
      calls.delete(call.inboundCallId);
      calls.delete(call.outboundCallId);
    },
  };

  const handleInvite = async (
    tx: ServerTransaction,
    req: SipRequest,
    inbound: InboundMessage,
  ): Promise<SipResponse | undefined> => {
    if (toTag(req) !== undefined) {
      // A re-INVITE: the relayed calls do not renegotiate media (§14.2: 488 keeps the session as it was).
      return calls.has(callIdOf(req))
        ? createResponse(req, 488, 'Not Acceptable Here')
        : createResponse(req, 481);
    }
    // An invitation from a partner system's edge carries the partner's signature instead of digest
    // credentials; our functions authorize it (core/partner-leg.ts).
    const partnerLeg =
      req.headers.has('X-MCPTT-Signature') && !req.headers.has('Proxy-Authorization')
        ? partnerLegOf(req)
        : undefined;
    let caller: string;
    if (partnerLeg) caller = fromUri(req);
    else {
      const who = await whoIs(req);
      if (!who.ok) return who.response;
      caller = who.mcpttId;
    }
    const route = await opts.functions.routeCall(caller, req.uri, callIdOf(req), partnerLeg, controlUrl);
    if (tx.state !== 'Proceeding') return undefined; // cancelled meanwhile (§9.2)
    if (route.action === 'reject') {
      return createResponse(req, route.status, route.reason, {
        headers: warningHeader(opts.domain, route.warningCode, route.warning),
      });
    }
    if (route.action === 'hold') {
      const timer = setTimeout(() => {
        held.delete(route.heldId);
        if (tx.lastFinal === undefined) tx.respond(createResponse(req, 408, 'Request Timeout'));
      }, route.timeoutMs ?? HOLD_TIMEOUT_MS);
      held.set(route.heldId, { tx, inbound, timer });
      return undefined;
    }
    if (route.action === 'answer') {
      const callId = callIdOf(req);
      const call = new UasCall(
        req,
        {
          contact: legIo.contact(inbound.source.transport),
          ...(route.sdp ? { sdp: route.sdp } : {}),
          ...(route.headers ? { headers: route.headers } : {}),
        },
        {
          respond: (res) => {
            tx.respond(res);
          },
          retransmit: (res) => {
            callRetransmissions++;
            void Promise.resolve(transport.send(res, inbound.source)).catch(() => undefined);
          },
          timers: { T1: tl.timers.T1, T2: tl.timers.T2 },
          ended: () => answered.delete(callId),
        },
      );
      answered.set(callId, call);
      return undefined;
    }
    if (route.action === 'redirect') {
      return createResponse(req, 302, 'Moved Temporarily', {
        headers: [
          ['Contact', `<${route.contact}>`],
          ...warningHeader(opts.domain, route.warningCode, route.warning),
        ],
      });
    }
    const target = route.targets
      .map((t) => ({ contact: t.contact, destination: endpointOfUri(t.contact) }))
      .find((t) => t.destination);
    if (!target?.destination) return createResponse(req, 480, 'Temporarily Unavailable');
    const call = new B2buaCall(req, tx, inbound.source, callIo, {
      contact: target.contact,
      destination: target.destination,
    });
    calls.set(call.inboundCallId, call);
    calls.set(call.outboundCallId, call);
    return undefined;
  };

  const handle = async (
    tx: ServerTransaction,
    req: SipRequest,
    inbound: InboundMessage,
  ): Promise<SipResponse | undefined> => {
    const invalid = validateRequestHeaders(req);
    if (invalid) return createResponse(req, 400, invalid.slice(0, 100).replace(/[\r\n]/g, ' '));
    const refused = checkRequest(req);
    if (refused) return refused;
    switch (req.method) {
      case 'OPTIONS':
        return createResponse(req, 200, 'OK', {
          headers: [
            ['Allow', ALLOWED_METHODS.join(', ')],
            ['Accept', ACCEPTED_TYPES.join(', ')],
            ['Accept-Encoding', 'identity'],
            ['Accept-Language', 'en'],
          ],
        });
      case 'REGISTER':
        return handleRegister(req, { domain: opts.domain, auth, functions: opts.functions, now });
      case 'PUBLISH':
        return handlePublish(req, { domain: opts.domain, auth, functions: opts.functions });
      case 'CANCEL': {
        const invite = tl.findInviteForCancel(req);
        const call = invite ? calls.get(callIdOf(invite.request)) : undefined;
        tl.answerCancel(tx, { reply487: !call });
        call?.onInboundCancel();
        // A group call held for the workflow: the functions stop it and release the members' legs.
        for (const [heldId, h] of held) {
          if (invite && h.tx === invite) {
            held.delete(heldId);
            clearTimeout(h.timer);
            opts.functions
              .cancelCall(heldId)
              .catch((e: unknown) => log(`cancel of ${heldId} not delivered: ${String(e)}`));
          }
        }
        return undefined;
      }
      case 'BYE': {
        const leg = legs.get(callIdOf(req));
        if (leg) {
          leg.remoteBye();
          legs.delete(callIdOf(req));
          return createResponse(req, 200, 'OK');
        }
        const own = answered.get(callIdOf(req));
        if (own) {
          // The initiator of a group call hung up: the functions end every member's leg.
          const groupCallId = groupCalls.get(callIdOf(req));
          own.onBye();
          if (groupCallId !== undefined) {
            groupCalls.delete(callIdOf(req));
            opts.functions
              .releaseCall(groupCallId)
              .catch((e: unknown) => log(`release of ${groupCallId} not delivered: ${String(e)}`));
          }
          return createResponse(req, 200, 'OK');
        }
        const call = calls.get(callIdOf(req));
        if (!call) return createResponse(req, 481);
        call.onBye(callIdOf(req) === call.inboundCallId);
        return createResponse(req, 200, 'OK');
      }
      case 'INVITE':
        return handleInvite(tx, req, inbound);
      default:
        return createResponse(req, 405, 'Method Not Allowed', {
          headers: [['Allow', ALLOWED_METHODS.join(', ')]],
        });
    }
  };

  tl.onRequest((tx, req, inbound) => {
    handle(tx, req, inbound)
      .then((res) => {
        if (res) tx.respond(withToTag(res));
      })
      .catch((e: unknown) => {
        log(`${req.method} failed: ${e instanceof Error ? e.message : String(e)}`);
        if (tx.lastFinal === undefined) tx.respond(createResponse(req, 500, 'Server Internal Error'));
      });
  });
  tl.onAck((ack) => {
    const id = callIdOf(ack);
    answered.get(id)?.onAck(ack);
    calls.get(id)?.onInboundAck(ack);
  });

  // RFC 3261 §8.2 / RFC 4475: a request that does not parse gets 400 when a response can be built.
  transport.onInvalid((raw, error, source) => {
    const parsed = parseMessage(raw, { transport: source.transport });
    if (parsed.ok || parsed.kind !== 'request' || !parsed.partial) return;
    const h = parsed.partial.headers;
    if (!h.get('Via') || !h.get('CSeq') || !h.get('Call-ID') || !h.get('From') || !h.get('To')) return;
    const pseudo: SipRequest = {
      kind: 'request',
      method: parsed.partial.method ?? 'UNKNOWN',
      uri: 'sip:invalid',
      version: 'SIP/2.0',
      headers: h.clone(),
      body: EMPTY_BODY,
    };
    if (pseudo.method === 'ACK') return;
    const status = 'status' in parsed && typeof parsed.status === 'number' ? parsed.status : 400;
    try {
      const res = createResponse(pseudo, status, status === 400 ? 'Bad Request' : undefined, {
        toTag: newTag(),
        headers: [['Warning', `399 ${opts.domain} "${error.replace(/["\\\r\n]/g, ' ').slice(0, 120)}"`]],
      });
      void Promise.resolve(transport.send(res, source)).catch(() => undefined);
    } catch {
      // nothing sensible to answer
    }
  });

  const originate: SipEdge['originate'] = (o) => {
    const destination = o.destination ?? endpointOfUri(o.target);
    if (!destination) return undefined;
    const leg = new OutboundLeg(
      {
        ...o,
        destination,
        onFinal: (outcome) => {
          if (outcome.status >= 300) legs.delete(leg.callId);
          o.onFinal(outcome);
        },
        // A leg whose dialog ended is no longer routed to (its BYE's response matches the client
        // transaction, not the leg): without this, every leg ended by our own BYE stayed here.
        onEnded: () => {
          legs.delete(leg.callId);
          o.onEnded?.();
        },
      },
      legIo,
    );
    if (leg.state !== 'failed') legs.set(leg.callId, leg);
    return leg;
  };

  const finishHeld: SipEdge['finishHeld'] = (heldId, final) => {
    const h = held.get(heldId);
    if (!h) return false;
    held.delete(heldId);
    clearTimeout(h.timer);
    const req = h.tx.request;
    if (h.tx.lastFinal !== undefined) return false;
    if (final.status >= 200 && final.status < 300) {
      const callId = callIdOf(req);
      const body =
        final.body ?? (final.sdp ? { contentType: 'application/sdp', data: final.sdp } : undefined);
      const call = new UasCall(
        req,
        {
          contact: legIo.contact(h.inbound.source.transport),
          ...(body ? { body } : {}),
          ...(final.headers ? { headers: final.headers } : {}),
        },
        {
          respond: (res) => {
            h.tx.respond(res);
          },
          retransmit: (res) => {
            callRetransmissions++;
            void Promise.resolve(transport.send(res, h.inbound.source)).catch(() => undefined);
          },
          timers: { T1: tl.timers.T1, T2: tl.timers.T2 },
          ended: () => {
            answered.delete(callId);
            groupCalls.delete(callId);
          },
        },
      );
      answered.set(callId, call);
      groupCalls.set(callId, heldId);
      return true;
    }
    const res = createResponse(req, final.status, final.reason, {
      toTag: newTag(),
      headers: final.headers ?? [],
    });
    if (final.body) {
      res.body = Buffer.from(final.body.data);
      res.headers.set('Content-Type', final.body.contentType);
    }
    return h.tx.respond(res);
  };

  const sendMessage: SipEdge['sendMessage'] = (m) => {
    const to = endpointOfUri(m.target);
    if (!to) return false;
    const headers = new SipHeaders();
    headers.add('Via', legIo.via(to.transport).value);
    headers.add('Max-Forwards', '70');
    headers.add('From', `<${m.from}>;tag=${newTag()}`);
    headers.add('To', `<${m.to}>`);
    headers.add('Call-ID', `${newTag()}${newTag()}@edge`);
    headers.add('CSeq', '1 MESSAGE');
    headers.add('Content-Type', m.contentType);
    const req: SipRequest = {
      kind: 'request',
      method: 'MESSAGE',
      uri: m.target,
      version: 'SIP/2.0',
      headers,
      body: Buffer.from(m.body),
    };
    try {
      tl.createClientTransaction(req, to, { onResponse: () => undefined });
      return true;
    } catch (e) {
      log(`MESSAGE to ${m.target} not sent: ${(e as Error).message}`);
      return false;
    }
  };

  return {
    domain: opts.domain,
    sendMessage,
    originate,
    finishHeld,
    legCount: () => legs.size,
    heldCount: () => held.size,
    get controlUrl() {
      return controlUrl;
    },
    set controlUrl(url: string | undefined) {
      controlUrl = url;
    },
    udp: transport.local('udp'),
    tcp: transport.local('tcp'),
    transport,
    transactions: tl,
    callCount: () => calls.size / 2 + answered.size,
    async stop() {
      metrics?.stop();
      for (const h of held.values()) clearTimeout(h.timer);
      tl.shutdown();
      await transport.close();
    },
  };
};
