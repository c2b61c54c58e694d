/**
 * The edge control clients of the functions: the shape an edge's own control URL must have, and one
 * client per edge task (same token), the default one for calls that name no task.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEdgeControlClients,
  edgeControlBaseUrl,
  MAX_EDGE_URL_LENGTH,
} from '#adapters/edge-control-client.ts';

describe('edgeControlBaseUrl', () => {
  it.each([
    ['http://10.0.1.7:8061', 'http://10.0.1.7:8061'],
    ['http://10.0.1.7:8061/', 'http://10.0.1.7:8061'],
    ['https://Edge-1.MCPTT.internal:8061', 'https://edge-1.mcptt.internal:8061'],
    ['http://[::1]:8061', 'http://[::1]:8061'],
    ['http://127.0.0.1', 'http://127.0.0.1'],
  ])('accepts %s', (raw, base) => {
    expect(edgeControlBaseUrl(raw)).toBe(base);
  });

  it.each([
    ['another scheme', 'ftp://10.0.1.7:8061'],
    ['a file URL', 'file:///etc/passwd'],
    ['credentials', 'http://user:pw@10.0.1.7:8061'],
    ['a user only', 'http://user@10.0.1.7:8061'],
    ['a path', 'http://10.0.1.7:8061/v1/legs'],
    ['a query', 'http://10.0.1.7:8061?x=1'],
    ['an empty query', 'http://10.0.1.7:8061?'],
    ['a fragment', 'http://10.0.1.7:8061#x'],
    ['a host with odd characters', 'http://bad_host:8061'],
    ['a label too long', `http://${'a'.repeat(64)}.example:8061`],
    ['too long', `http://${'a.'.repeat(MAX_EDGE_URL_LENGTH / 2)}example`],
    ['not a URL', 'edge-1:8061 please'],
    ['empty', ''],
  ])('refuses %s', (_, raw) => {
    expect(edgeControlBaseUrl(raw)).toBeUndefined();
  });
});

describe('createEdgeControlClients', () => {
  const seen: { server: string; path: string; auth: string | undefined }[] = [];
  const servers: Server[] = [];
  const urls: string[] = [];
  const listen = async (name: string) => {
    const server = createServer((req: IncomingMessage, res) => {
      seen.push({ server: name, path: req.url ?? '', auth: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"sent":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  beforeAll(async () => {
    urls.push(await listen('default'), await listen('task-a'), await listen('task-b'));
  });
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('sends to the task a call names, with the same token; the default edge without a URL', async () => {
    const [defaultUrl, taskA, taskB] = urls as [string, string, string];
    const { edge, edgeFor } = createEdgeControlClients({ url: `${defaultUrl}/`, token: 'tok' });
    expect(edgeFor()).toBe(edge);
    expect(edgeFor(`${taskA}/`)).toBe(edgeFor(taskA));
    await edgeFor(taskA).held('call-1', { status: 200 });
    await edgeFor(taskB).endLegs('call-2', [{ legId: 'bob', action: 'bye' }]);
    await edgeFor(undefined).endLegs('call-3', [{ legId: 'carol', action: 'cancel' }]);
    expect(seen).toEqual([
      { server: 'task-a', path: '/v1/held/call-1/final', auth: 'Bearer tok' },
      { server: 'task-b', path: '/v1/legs/end', auth: 'Bearer tok' },
      { server: 'default', path: '/v1/legs/end', auth: 'Bearer tok' },
    ]);
  });

  it('refuses a URL that is not an edge control URL', () => {
    const { edgeFor } = createEdgeControlClients({ url: 'http://127.0.0.1:1', token: 'tok' });
    expect(() => edgeFor('http://169.254.169.254/latest/meta-data')).toThrow(/not an edge control URL/);
  });
});
