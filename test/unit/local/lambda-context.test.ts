import { describe, expect, it } from 'vitest';
import { createLambdaContext } from '#local/lambda-context.ts';

describe('createLambdaContext', () => {
  it('looks like a Lambda context', () => {
    const ctx = createLambdaContext('regroups', 5000, { region: 'eu-west-1' });
    expect(ctx).toMatchObject({
      functionName: 'regroups',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:regroups',
      memoryLimitInMB: '128',
      logGroupName: '/aws/lambda/regroups',
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(ctx.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ctx.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(createLambdaContext('regroups').awsRequestId).not.toBe(ctx.awsRequestId);
  });

  it('counts the remaining time down to zero', () => {
    let t = 1_000;
    const ctx = createLambdaContext('auth', 3000, { now: () => t });
    expect(ctx.getRemainingTimeInMillis()).toBe(3000);
    t += 1000;
    expect(ctx.getRemainingTimeInMillis()).toBe(2000);
    t += 5000;
    expect(ctx.getRemainingTimeInMillis()).toBe(0);
  });

  it('rejects the deprecated callback-style completion', () => {
    expect(() => createLambdaContext('auth').succeed('x')).toThrow(/not supported/);
  });
});
