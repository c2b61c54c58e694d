/**
 * Cost model of one call setup on AWS: the operations counted per call in the local run, times the
 * public on-demand prices of one region. Update {@link PRICES} (and its `date`) when AWS changes them.
 *
 * What is counted, per successful call setup, both systems together:
 * - Lambda: one invocation per HTTP API request (API Gateway → Lambda proxy), per Task state of the
 *   workflow, and per partner interrogation (SQS → interrogator); duration billed per invocation in
 *   whole ms at the stack's memory size (512 MB, arm64: lib/mcptt-system-stack.ts). Two durations:
 *   *measured* — each invocation's wall time in the local process (x86, dynalite on loopback; every
 *   function, emulator and edge shares one event loop there, so under load this is mostly queueing
 *   behind the others), and *modeled* — {@link DURATION_MODEL}: a fixed compute time per invocation
 *   plus one DynamoDB round trip per request, as if each function ran alone against DynamoDB;
 * - Step Functions Standard: state transitions (states entered, Map iterations' states included);
 * - SQS: every request (SendMessage by the workflow, ReceiveMessage/DeleteMessageBatch by the event
 *   source mapping, idle long polls of the step included);
 * - DynamoDB on demand: read/write request units as dynalite reports them (strongly consistent
 *   reads 1 RRU per 4 KB, writes 1 WRU per KB; a failed conditional write counted as 1 WRU);
 * - API Gateway HTTP API: requests.
 * Not counted: the SIP edge (ECS Fargate + NLB, a fixed hourly cost, not per call), CloudWatch Logs
 * (the state machine logs level ALL with execution data: every state's input and output, which grows
 * with N), X-Ray traces, data transfer, Secrets Manager reads (cached per container), free tiers.
 */

/** On-demand list prices, us-east-1. */
export const PRICES = {
  region: 'us-east-1',
  /** When these figures were last checked against the AWS pricing pages. */
  date: '2026-11-27',
  currency: 'USD',
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  stepFunctionsStandardPerThousandTransitions: 0.025,
  sqsStandardPerMillionRequests: 0.4,
  /** After the 2024-11-01 on-demand price cut. */
  dynamoDbOnDemandPerMillionWriteUnits: 0.625,
  dynamoDbOnDemandPerMillionReadUnits: 0.125,
  httpApiPerMillionRequests: 1.0,
  /** Memory of every function (lib/mcptt-system-stack.ts). */
  lambdaMemoryGb: 512 / 1024,
  sources: [
    'https://aws.amazon.com/lambda/pricing/ (Arm, first 7.5 billion GB-s/month)',
    'https://aws.amazon.com/step-functions/pricing/ (Standard workflows)',
    'https://aws.amazon.com/sqs/pricing/ (standard queue, after the free tier)',
    'https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class)',
    'https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs, first 300 million requests/month)',
  ],
} as const;

/**
 * Modeled Lambda duration: `computeMs` per invocation plus `dynamoRequestMs` per DynamoDB request
 * (made one after the other: an upper bound where a function sends requests in parallel).
 */
export const DURATION_MODEL = { computeMs: 2, dynamoRequestMs: 5 } as const;

/** Operations of one call setup (averages per successful call). */
export interface CallOperations {
  lambdaInvocations: number;
  /** Sum over invocations of the duration rounded up to a whole ms. */
  lambdaBilledMs: number;
  stateTransitions: number;
  sqsRequests: number;
  dynamoRequests: number;
  readUnits: number;
  writeUnits: number;
  apiRequests: number;
}

export interface CostBreakdown {
  lambdaRequests: number;
  /** With the durations measured locally. */
  lambdaDuration: number;
  /** With {@link DURATION_MODEL}. */
  lambdaDurationModeled: number;
  stepFunctions: number;
  sqs: number;
  dynamoDb: number;
  apiGateway: number;
  /** Everything, Lambda duration as measured. */
  total: number;
  /** Everything, Lambda duration as modeled. */
  totalModeled: number;
}

/** Cost of one million call setups with these operations per call. */
export const costPerMillion = (ops: CallOperations, p = PRICES): CostBreakdown => {
  const M = 1_000_000;
  const gbS = (ms: number) => (ms / 1000) * p.lambdaMemoryGb;
  const lambdaRequests = (ops.lambdaInvocations * M * p.lambdaPerMillionRequests) / M;
  const lambdaDuration = gbS(ops.lambdaBilledMs) * M * p.lambdaArmPerGbSecond;
  const stepFunctions = (ops.stateTransitions * M * p.stepFunctionsStandardPerThousandTransitions) / 1000;
  const sqs = ops.sqsRequests * p.sqsStandardPerMillionRequests;
  const dynamoDb =
    ops.readUnits * p.dynamoDbOnDemandPerMillionReadUnits +
    ops.writeUnits * p.dynamoDbOnDemandPerMillionWriteUnits;
  const apiGateway = ops.apiRequests * p.httpApiPerMillionRequests;
  const modeledMs =
    ops.lambdaInvocations * DURATION_MODEL.computeMs + ops.dynamoRequests * DURATION_MODEL.dynamoRequestMs;
  const lambdaDurationModeled = gbS(modeledMs) * M * p.lambdaArmPerGbSecond;
  const rest = lambdaRequests + stepFunctions + sqs + dynamoDb + apiGateway;
  return {
    lambdaRequests,
    lambdaDuration,
    lambdaDurationModeled,
    stepFunctions,
    sqs,
    dynamoDb,
    apiGateway,
    total: rest + lambdaDuration,
    totalModeled: rest + lambdaDurationModeled,
  };
};
