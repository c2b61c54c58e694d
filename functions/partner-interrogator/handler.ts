// functions/partner-interrogator/handler.ts — SQS consumer: one partner interrogation per message,
// partial batch failures (only messages whose task could not be completed are retried).
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createWorkflowClient } from '#adapters/workflow-client.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { once } from '../shared/http-function.ts';
import { logger } from '../shared/logger.ts';
import { type InterrogationTask, type InterrogatorDeps, interrogatePartner } from './interrogate-partner.ts';

export const depsFrom = (app: AppDeps, workflowEndpoint?: string): InterrogatorDeps => ({
  partners: app.partners,
  workflow: createWorkflowClient(workflowEndpoint ? { endpoint: workflowEndpoint } : {}),
  agreement: (partner) => app.store.getAgreement(partner),
});

export const buildHandler = (
  deps: () => Promise<InterrogatorDeps> = once(async () =>
    depsFrom(await depsFromEnv(), process.env.SFN_ENDPOINT),
  ),
) =>
  middy<SQSEvent, SQSBatchResponse>().handler(async (event) => {
    const d = await deps();
    const failures: { itemIdentifier: string }[] = [];
    await Promise.all(
      event.Records.map(async (record) => {
        try {
          const task = JSON.parse(record.body) as InterrogationTask;
          await interrogatePartner(task, d);
        } catch (e) {
          // A task token that is already completed (duplicate delivery) is final: nothing to retry.
          const name = (e as Error).name;
          if (name === 'TaskTimedOut' || name === 'InvalidToken' || name === 'TaskDoesNotExist') return;
          logger.warn('interrogation not completed; will be retried', {
            messageId: record.messageId,
            reason: (e as Error).message,
          });
          failures.push({ itemIdentifier: record.messageId });
        }
      }),
    );
    return { batchItemFailures: failures };
  });

export const handler = buildHandler();
