/** functions/shared/logger.ts: every line of a call's processing carries callId, TGI and partner. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildHandler as interrogatorHandler } from '#functions/partner-interrogator/handler.ts';
import { addLogContext, logContext, logger, withLogContext } from '#functions/shared/logger.ts';
import { createLambdaContext } from '#local/lambda-context.ts';
import { fakeMetrics } from '../../support/fake-metrics.ts';

describe('Logger: context of a call', () => {
  let lines: Record<string, unknown>[];
  const level = process.env.LOG_LEVEL;
  beforeEach(() => {
    process.env.LOG_LEVEL = 'info';
    lines = [];
    const capture = (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>);
    vi.spyOn(console, 'log').mockImplementation(capture);
    vi.spyOn(console, 'error').mockImplementation(capture);
  });
  afterEach(() => {
    process.env.LOG_LEVEL = level;
    vi.restoreAllMocks();
  });

  it('lines written in a context carry its fields, also after awaits and in fields added later', async () => {
    await withLogContext({ requestId: 'r-1' }, async () => {
      addLogContext({ callId: 'c-1', tgi: 'sip:tg@primary.example' });
      await new Promise((r) => setTimeout(r, 1));
      logger.info('invited', { legs: 2 });
      addLogContext({ partner: 'partner.example' });
      await Promise.resolve();
      logger.error('partner unavailable');
    });
    logger.warn('outside');
    expect(lines[0]).toMatchObject({
      level: 'info',
      message: 'invited',
      requestId: 'r-1',
      callId: 'c-1',
      tgi: 'sip:tg@primary.example',
      legs: 2,
    });
    expect(lines[1]).toMatchObject({
      level: 'error',
      callId: 'c-1',
      tgi: 'sip:tg@primary.example',
      partner: 'partner.example',
    });
    expect(lines[2]).toMatchObject({ level: 'warn', message: 'outside' });
    expect(lines[2]).not.toHaveProperty('callId');
  });

  it('concurrent contexts do not mix; nested ones inherit; undefined fields are left out', async () => {
    await Promise.all(
      ['c-1', 'c-2'].map((callId) =>
        withLogContext({ callId, partner: undefined }, async () => {
          await new Promise((r) => setTimeout(r, callId === 'c-1' ? 5 : 0));
          withLogContext({ legId: `${callId}-leg` }, () => logger.info('answer'));
        }),
      ),
    );
    expect(lines.map((l) => [l.callId, l.legId])).toEqual([
      ['c-2', 'c-2-leg'],
      ['c-1', 'c-1-leg'],
    ]);
    expect(lines[0]).not.toHaveProperty('partner');
    expect(logContext()).toEqual({});
  });

  it('child loggers bind fields; the line fields win over the bound ones', () => {
    const log = logger.child({ callId: 'c-9', tgi: 'sip:tg@primary.example' });
    log.child({ partner: 'partner.example' }).info('interrogated', { tgi: 'sip:other@primary.example' });
    expect(lines[0]).toMatchObject({
      callId: 'c-9',
      partner: 'partner.example',
      tgi: 'sip:other@primary.example',
    });
  });

  it("in Lambda's JSON log format, the record is logged as an object (its fields stay queryable)", () => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => undefined);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    process.env.AWS_LAMBDA_LOG_FORMAT = 'JSON';
    try {
      withLogContext({ callId: 'c-1', tgi: 'sip:tg@primary.example' }, () => {
        logger.info('invited');
        logger.warn('slow partner', { partner: 'partner.example' });
      });
    } finally {
      delete process.env.AWS_LAMBDA_LOG_FORMAT;
    }
    expect(info).toHaveBeenCalledWith(
      expect.objectContaining({
        level: 'info',
        message: 'invited',
        callId: 'c-1',
        tgi: 'sip:tg@primary.example',
      }),
    );
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ level: 'warn', callId: 'c-1', partner: 'partner.example' }),
    );
    expect(lines).toEqual([]);
  });

  it('the partner interrogator: its lines carry the call, the TGI and the partner of the message', async () => {
    const metrics = fakeMetrics();
    const handler = interrogatorHandler(async () => ({
      partners: { send: async () => ({ status: 200, body: { tgi: 'sip:tg@primary.example', groups: [] } }) },
      workflow: {
        taskSucceeded: async () => {
          throw new Error('throttled');
        },
        taskFailed: async () => undefined,
      },
      agreement: async () => ({
        partner: 'partner.example',
        apiUrl: 'http://127.0.0.1:1',
        sipUri: 'sip:127.0.0.1:1',
        keyId: 'k',
        key: 'A'.repeat(43),
        sharedUserFields: [],
        regroupableGroups: '*' as const,
      }),
      metrics,
    }));
    const body = JSON.stringify({
      taskToken: 't',
      callId: 'c-7',
      tgi: 'sip:tg@primary.example',
      partner: 'partner.example',
      groups: ['sip:ambulance-1@partner.example'],
    });
    const out = await handler(
      { Records: [{ messageId: 'm-1', body } as never] },
      createLambdaContext('partner-interrogator'),
    );
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'interrogation not completed; will be retried',
        reason: 'throttled',
        messageId: 'm-1',
        callId: 'c-7',
        tgi: 'sip:tg@primary.example',
        partner: 'partner.example',
      }),
    ]);
    expect(metrics.flushes).toBe(1);
  });
});
