/**
 * functions/shared/notify-regroup.ts: the regroup notices go through `deps.messages` (the message relay,
 * for regroups outside the VPC in AWS) when it is set, else through the edge directly.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Store } from '#adapters/dynamo/store.ts';
import type { EdgeControl } from '#adapters/edge-control-client.ts';
import type { Affiliation, Registration } from '#core/model.ts';
import { REGROUP_NOTIFICATION_TYPE } from '#core/regroup-notification.ts';
import { notifyRegroup } from '#functions/shared/notify-regroup.ts';

const NOW = 1_800_000_000_000;
const GROUP = 'sip:fire-1@primary.example';
const TGI = 'sip:tg-1@primary.example';

const store = {
  affiliationsToGroup: async (groupId: string): Promise<Affiliation[]> => [
    { mcpttId: 'sip:alice@primary.example', groupId, clientId: 'c1', expiresAt: NOW + 1000 },
  ],
  registrationsOf: async (ids: readonly string[]): Promise<Map<string, Registration[]>> =>
    new Map(
      ids.map((mcpttId) => [
        mcpttId,
        [{ mcpttId, contact: 'sip:alice@198.51.100.7:5060', expiresAt: NOW + 1000 }],
      ]),
    ),
} as unknown as Store;

const channel = (sent: number) => {
  const sendMessages = vi.fn<EdgeControl['sendMessages']>(async () => ({ sent, skipped: 0 }));
  return { sendMessages };
};
const deps = (more: { edge?: EdgeControl; messages?: Pick<EdgeControl, 'sendMessages'> }) => ({
  system: 'primary.example',
  store,
  now: () => NOW,
  ...more,
});

describe('Function: notifyRegroup', () => {
  it('sends through the message relay when there is one, not through the edge', async () => {
    const edge = channel(5);
    const messages = channel(1);
    const sent = await notifyRegroup(
      deps({ edge: edge as unknown as EdgeControl, messages }),
      { action: 'regrouped', tgi: TGI },
      [GROUP],
    );
    expect(sent).toBe(1);
    expect(edge.sendMessages).not.toHaveBeenCalled();
    expect(messages.sendMessages).toHaveBeenCalledWith({
      from: TGI,
      contentType: REGROUP_NOTIFICATION_TYPE,
      body: expect.stringContaining('action="regrouped"'),
      targets: [{ target: 'sip:alice@primary.example', contact: 'sip:alice@198.51.100.7:5060' }],
    });
  });

  it('sends through the edge when there is no relay (locally, and the functions in the VPC)', async () => {
    const edge = channel(1);
    const sent = await notifyRegroup(
      deps({ edge: edge as unknown as EdgeControl }),
      { action: 'regroup-cancelled', tgi: TGI },
      [GROUP],
    );
    expect(sent).toBe(1);
    expect(edge.sendMessages).toHaveBeenCalledTimes(1);
  });

  it("reads every affiliated member's registrations in one batch, and skips members with none", async () => {
    const asked: (readonly string[])[] = [];
    const many = {
      affiliationsToGroup: async (groupId: string): Promise<Affiliation[]> => [
        { mcpttId: 'sip:alice@primary.example', groupId, clientId: 'c1', expiresAt: NOW + 1000 },
        { mcpttId: 'sip:alice@primary.example', groupId, clientId: 'c2', expiresAt: NOW + 1000 },
        { mcpttId: 'sip:bob@primary.example', groupId, clientId: 'c3', expiresAt: NOW + 1000 },
        { mcpttId: 'sip:carol@primary.example', groupId, clientId: 'c4', expiresAt: NOW + 1000 },
      ],
      registrationsOf: async (ids: readonly string[]): Promise<Map<string, Registration[]>> => {
        asked.push(ids);
        const alice = 'sip:alice@primary.example';
        return new Map([
          [
            alice,
            [
              { mcpttId: alice, contact: 'sip:alice@198.51.100.7:5060', expiresAt: NOW + 1000 },
              { mcpttId: alice, contact: 'sip:alice@198.51.100.8:5060', expiresAt: NOW + 2000 },
            ],
          ],
          ['sip:bob@primary.example', []],
        ]);
      },
    } as unknown as Store;
    const edge = channel(2);
    await notifyRegroup(
      { ...deps({ edge: edge as unknown as EdgeControl }), store: many },
      { action: 'regrouped', tgi: TGI },
      [GROUP],
    );
    expect(asked).toEqual([
      ['sip:alice@primary.example', 'sip:bob@primary.example', 'sip:carol@primary.example'],
    ]);
    expect(edge.sendMessages.mock.calls[0]?.[0].targets).toEqual([
      { target: 'sip:alice@primary.example', contact: 'sip:alice@198.51.100.7:5060' },
      { target: 'sip:alice@primary.example', contact: 'sip:alice@198.51.100.8:5060' },
    ]);
  });

  it('sends nothing with neither, and a relay failure never fails the regroup', async () => {
    expect(await notifyRegroup(deps({}), { action: 'regrouped', tgi: TGI }, [GROUP])).toBe(0);
    const failing = {
      sendMessages: vi.fn(async () => {
        throw new Error('relay not accepted');
      }),
    };
    expect(await notifyRegroup(deps({ messages: failing }), { action: 'regrouped', tgi: TGI }, [GROUP])).toBe(
      0,
    );
    expect(failing.sendMessages).toHaveBeenCalledTimes(1);
  });
});
