import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMERS, FakeClock, realClock, resolveTimers } from '../../../../sip/transaction/timers.ts';

describe('Class: FakeClock', () => {
  it('advance() runs due timers in due-time order, ties in scheduling order, with now() at their due time', () => {
    const c = new FakeClock(1000);
    const log: string[] = [];
    c.setTimeout(() => log.push(`b@${c.now()}`), 200);
    c.setTimeout(() => log.push(`a@${c.now()}`), 100);
    c.setTimeout(() => log.push(`c@${c.now()}`), 200);
    c.setTimeout(() => log.push(`late@${c.now()}`), 1000);
    c.advance(500);
    expect(log).toEqual(['a@1100', 'b@1200', 'c@1200']);
    expect(c.now()).toBe(1500);
    expect(c.pending()).toBe(1);
    c.advance(500);
    expect(log.at(-1)).toBe('late@2000');
  });

  it('runs timers scheduled by timers when they fall inside the window', () => {
    const c = new FakeClock();
    const at: number[] = [];
    const tick = (n: number) => {
      at.push(c.now());
      if (n > 0) c.setTimeout(tick, 100, n - 1);
    };
    c.setTimeout(tick, 100, 5);
    c.advance(350);
    expect(at).toEqual([100, 200, 300]);
    c.advance(1000);
    expect(at).toEqual([100, 200, 300, 400, 500, 600]);
  });

  it('clearTimeout cancels; clearing twice or after firing is harmless; zero delay runs on advance(0)', () => {
    const c = new FakeClock();
    let n = 0;
    const h = c.setTimeout(() => n++, 10);
    c.clearTimeout(h);
    c.clearTimeout(h);
    const h2 = c.setTimeout(() => n++, 0);
    c.advance(0);
    c.clearTimeout(h2);
    expect(n).toBe(1);
    expect(c.pending()).toBe(0);
    expect(c.nextDue()).toBeUndefined();
  });

  it('runAll() drains every timer, jumping time forward', () => {
    const c = new FakeClock();
    let n = 0;
    c.setTimeout(() => n++, 5000);
    c.setTimeout(() => c.setTimeout(() => n++, 1000), 100);
    expect(c.runAll()).toBe(3);
    expect(n).toBe(2);
    expect(c.now()).toBe(5000);
  });
});

describe('Object: realClock', () => {
  it('runs a timer with its argument and can clear one', async () => {
    let got: string | undefined;
    realClock.setTimeout(
      (a: string) => {
        got = a;
      },
      1,
      'x',
    );
    const cleared = realClock.setTimeout(() => {
      got = 'cleared timer ran';
    }, 2);
    realClock.clearTimeout(cleared);
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toBe('x');
    expect(typeof realClock.now()).toBe('number');
  });
});

describe('Function: resolveTimers', () => {
  it('defaults to RFC 3261 Table 4: T1 500 ms, T2 4 s, T4 5 s, Timer C 180 s, Timer D 32 s', () => {
    expect(resolveTimers()).toEqual({ T1: 500, T2: 4000, T4: 5000, timerC: 180_000, timerD: 32_000 });
    expect(DEFAULT_TIMERS.T1).toBe(500);
  });

  it('accepts overrides and refuses nonsense', () => {
    expect(resolveTimers({ T1: 100 }).T1).toBe(100);
    expect(() => resolveTimers({ T1: 0 })).toThrow(RangeError);
    expect(() => resolveTimers({ T2: Number.NaN })).toThrow(RangeError);
    expect(() => resolveTimers({ T1: 5000, T2: 4000 })).toThrow(RangeError);
  });
});
