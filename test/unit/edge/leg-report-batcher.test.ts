import { describe, expect, it } from 'vitest';
import { createLegReportBatcher } from '../../../edge/leg-report-batcher.ts';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

describe('edge leg report batcher', () => {
  it('sends a lone report at once, in a request of its own', async () => {
    const sent: unknown[][] = [];
    const b = createLegReportBatcher({ send: async (_u, r) => void sent.push([...r]) });
    b.add('http://api/r', { legId: 'a' });
    await b.drain();
    expect(sent).toEqual([[{ legId: 'a' }]]);
  });

  it('sends reports of the same turn together, at most maxBatch per request', async () => {
    const sent: unknown[][] = [];
    const b = createLegReportBatcher({ send: async (_u, r) => void sent.push([...r]), maxBatch: 4 });
    for (let i = 0; i < 10; i++) b.add('http://api/r', i);
    await b.drain();
    expect(sent).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
  });

  it('queues while maxInFlight requests are outstanding, then sends the queue as one batch', async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    const sent: unknown[][] = [];
    const b = createLegReportBatcher({
      maxInFlight: 1,
      send: (_u, r) => {
        sent.push([...r]);
        const g = deferred();
        gates.push(g);
        return g.promise;
      },
    });
    b.add('u', 'first');
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([['first']]);
    b.add('u', 'x');
    await new Promise((r) => setImmediate(r));
    b.add('u', 'y');
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(1);
    gates[0]?.resolve();
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([['first'], ['x', 'y']]);
    gates[1]?.resolve();
    await b.drain();
  });

  it('keeps destinations apart and survives a failing send', async () => {
    const sent: [string, unknown[]][] = [];
    const b = createLegReportBatcher({
      send: async (u, r) => {
        if (u === 'bad') throw new Error('down');
        sent.push([u, [...r]]);
      },
    });
    b.add('one', 1);
    b.add('bad', 2);
    b.add('two', 3);
    await b.drain();
    expect(sent).toEqual([
      ['one', [1]],
      ['two', [3]],
    ]);
    b.add('one', 4);
    await b.drain();
    expect(sent.at(-1)).toEqual(['one', [4]]);
  });
});
