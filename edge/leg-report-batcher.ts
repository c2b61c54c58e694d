/**
 * Leg reports from the edge to the member-response function, batched without delay: reports that
 * become ready in the same turn of the event loop go out in one request (`{ reports: [...] }`, at most
 * `maxBatch`), and while `maxInFlight` requests to a URL are outstanding, new reports queue and leave
 * together when one returns. A lone report is sent at once (no timer), so batching never adds latency
 * at low load and cuts requests and function invocations per call at high load.
 */

/** Sends one batch; resolves when the batch was taken (or finally given up on). */
export type SendBatch = (url: string, reports: readonly unknown[]) => Promise<void>;

export interface LegReportBatcherOptions {
  send: SendBatch;
  /** Reports per request (the member-response function accepts 100). Default 100. */
  maxBatch?: number;
  /**
   * Concurrent requests per URL. Default 2: the answers of one call all update that call's item, so
   * more requests at once only queue there, and each reads the call item back (decision 0015); fewer,
   * larger batches cost less per answer.
   */
  maxInFlight?: number;
}

export interface LegReportBatcher {
  /** Queues one report for `url`. */
  add(url: string, report: unknown): void;
  /** Resolves when every queued report has been sent. */
  drain(): Promise<void>;
}

interface Destination {
  queue: unknown[];
  inFlight: number;
  scheduled: boolean;
}

export const createLegReportBatcher = (opts: LegReportBatcherOptions): LegReportBatcher => {
  const maxBatch = opts.maxBatch ?? 100;
  const maxInFlight = opts.maxInFlight ?? 2;
  const destinations = new Map<string, Destination>();
  let idle: (() => void)[] = [];

  const busy = () =>
    [...destinations.values()].some((d) => d.queue.length > 0 || d.inFlight > 0 || d.scheduled);
  const settle = () => {
    if (busy()) return;
    const waiting = idle;
    idle = [];
    for (const w of waiting) w();
  };

  const pump = (url: string, d: Destination) => {
    while (d.queue.length > 0 && d.inFlight < maxInFlight) {
      const batch = d.queue.splice(0, maxBatch);
      d.inFlight++;
      void opts
        .send(url, batch)
        .catch(() => undefined)
        .finally(() => {
          d.inFlight--;
          pump(url, d);
          settle();
        });
    }
  };

  return {
    add(url, report) {
      let d = destinations.get(url);
      if (!d) {
        d = { queue: [], inFlight: 0, scheduled: false };
        destinations.set(url, d);
      }
      d.queue.push(report);
      if (d.scheduled) return;
      d.scheduled = true;
      const dest = d;
      // Reports completed by the same batch of datagrams arrive in one turn: send them together.
      setImmediate(() => {
        dest.scheduled = false;
        pump(url, dest);
        settle();
      });
    },
    drain() {
      if (!busy()) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
  };
};
