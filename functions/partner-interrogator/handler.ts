// functions/partner-interrogator/handler.ts — SQS consumer: one partner interrogation per message,
// partial batch failures (only messages whose task could not be completed are retried).
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createWorkflowClient } from '#adapters/workflow-client.ts';
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { once } from '../shared/http-function.ts';
import { logger, withLogContext } from '../shared/logger.ts';
import { type InterrogationTask, type InterrogatorDeps, interrogatePartner } from './interrogate-partner.ts';

export const depsFrom = (app: AppDeps, workflowEndpoint?: string): InterrogatorDeps => ({
  partners: app.partners,
  workflow: createWorkflowClient(workflowEndpoint ? { endpoint: workflowEndpoint } : {}),
  agreement: (partner) => app.store.getAgreement(partner),
  metrics: app.metrics,
});

export const buildHandler = (
  deps: () => Promise<InterrogatorDeps> = once(async () =>
    depsFrom(await depsFromEnv(), process.env.SFN_ENDPOINT),
  ),
) =>
  middy<SQSEvent, SQSBatchResponse>().handler(async (event) => {
    const d = await deps();
    const failures: { itemIdentifier: string }[] = [];
    try {
      await Promise.all(
        event.Records.map((record) => {
          let task: InterrogationTask | undefined;
          let malformed: unknown;
          try {
            task = JSON.parse(record.body) as InterrogationTask;
          } catch (e) {
            malformed = e;
          }
          // Every log line of the interrogation carries the call, its TGI and the partner.
          const fields = {
            messageId: record.messageId,
            callId: task?.callId,
            tgi: task?.tgi,
            partner: task?.partner,
          };
          return withLogContext(fields, async () => {
            try {
              if (!task) throw malformed;
              await interrogatePartner(task, d);
            } catch (e) {
              // A task token that is already completed (duplicate delivery) is final: nothing to retry.
              const name = (e as Error).name;
              if (name === 'TaskTimedOut' || name === 'InvalidToken' || name === 'TaskDoesNotExist') return;
              logger.warn('interrogation not completed; will be retried', { reason: (e as Error).message });
              failures.push({ itemIdentifier: record.messageId });
            }
          });
        }),
      );
    } finally {
      d.metrics?.flush();
    }
    return { batchItemFailures: failures };
  });

export const handler = buildHandler();
