import { describe, expect, it, vi } from 'vitest';
import type { PartnerClient, PartnerResponse } from '#adapters/partner-client.ts';
import { DomainError } from '#core/errors.ts';
import type { PartnerAgreement } from '#core/model.ts';
import {
  type InterrogationTask,
  interrogatePartner,
  PARTNER_REFUSED,
  PARTNER_UNAVAILABLE,
} from '#functions/partner-interrogator/interrogate-partner.ts';

const agreement: PartnerAgreement = {
  partner: 'partner.example',
  apiUrl: 'http://127.0.0.1:1',
  sipUri: 'sip:127.0.0.1:5070',
  keyId: 'k',
  key: 'A'.repeat(43),
  sharedUserFields: [],
  regroupableGroups: '*',
};
const task: InterrogationTask = {
  taskToken: 'token-1',
  callId: 'call-1',
  tgi: 'sip:tg@primary.example',
  partner: 'partner.example',
  groups: ['sip:ambulance-1@partner.example'],
};

const setUp = (answers: (PartnerResponse | Error)[]) => {
  const send = vi.fn(async () => {
    const a = answers.shift();
    if (!a) throw new Error('no more answers');
    if (a instanceof Error) throw a;
    return a;
  });
  const workflow = { taskSucceeded: vi.fn(async () => undefined), taskFailed: vi.fn(async () => undefined) };
  return {
    deps: { partners: { send } as PartnerClient, workflow, agreement: async () => agreement },
    send,
    workflow,
  };
};

describe('Function: interrogatePartner', () => {
  it('completes the task with the partner answer', async () => {
    const body = {
      tgi: task.tgi,
      groups: [
        {
          groupId: 'sip:ambulance-1@partner.example',
          members: [{ mcpttId: 'sip:carol@partner.example', required: true }],
        },
      ],
    };
    const { deps, workflow, send } = setUp([{ status: 200, body }]);
    await interrogatePartner(task, deps);
    expect(send).toHaveBeenCalledWith(
      agreement,
      expect.objectContaining({ method: 'POST', path: '/partner/v1/interrogations' }),
    );
    expect(workflow.taskSucceeded).toHaveBeenCalledWith('token-1', { partner: 'partner.example', ...body });
  });

  it('fails the task as refused with the partner reason on a 4xx', async () => {
    const { deps, workflow } = setUp([{ status: 403, body: { message: 'not regrouped' } }]);
    await interrogatePartner(task, deps);
    expect(workflow.taskFailed).toHaveBeenCalledWith('token-1', PARTNER_REFUSED, 'not regrouped');
  });

  it('retries once, then fails the task as unavailable with the transport reason', async () => {
    const down = new DomainError('partner_unavailable', 'x', {
      details: { reason: 'unreachable: ECONNREFUSED' },
    });
    const { deps, workflow, send } = setUp([down, down]);
    await interrogatePartner(task, deps);
    expect(send).toHaveBeenCalledTimes(2);
    expect(workflow.taskFailed).toHaveBeenCalledWith(
      'token-1',
      PARTNER_UNAVAILABLE,
      'unreachable: ECONNREFUSED',
    );
  });

  it('succeeds on the retry after one 5xx', async () => {
    const body = { tgi: task.tgi, groups: [] };
    const { deps, workflow } = setUp([
      { status: 503, body: { message: 'busy' } },
      { status: 200, body },
    ]);
    await interrogatePartner(task, deps);
    expect(workflow.taskSucceeded).toHaveBeenCalledTimes(1);
    expect(workflow.taskFailed).not.toHaveBeenCalled();
  });

  it('fails as unavailable on a malformed answer, and when there is no agreement', async () => {
    const { deps, workflow } = setUp([{ status: 200, body: { nonsense: true } }]);
    await interrogatePartner(task, deps);
    expect(workflow.taskFailed).toHaveBeenCalledWith(
      'token-1',
      PARTNER_UNAVAILABLE,
      'malformed interrogation answer',
    );
    const second = setUp([]);
    await interrogatePartner(task, { ...second.deps, agreement: async () => undefined });
    expect(second.workflow.taskFailed).toHaveBeenCalledWith(
      'token-1',
      PARTNER_UNAVAILABLE,
      'no agreement with partner.example',
    );
  });

  it('throws when the workflow cannot be told (SQS retries the message)', async () => {
    const { deps, workflow } = setUp([{ status: 403, body: {} }]);
    workflow.taskFailed.mockRejectedValueOnce(new Error('network'));
    await expect(interrogatePartner(task, deps)).rejects.toThrow('network');
  });
});
