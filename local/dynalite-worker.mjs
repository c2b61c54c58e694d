// A dynalite server in a worker thread (local/dynalite.ts `thread: true`): DynamoDB work of a local
// system runs beside its event loop instead of on it, so a 2-core machine uses both cores.
// Messages: in `{ port, path }` (workerData), out `{ port }` or `{ error }`; in 'close', out 'closed'.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite');

const server = dynalite({
  ...(workerData.path ? { path: workerData.path } : {}),
  createTableMs: 0,
  deleteTableMs: 0,
  updateTableMs: 0,
});
// Same hardening as in-process: an aborted request drops its connection instead of throwing.
const handlers = server.listeners('request');
server.removeAllListeners('request');
server.on('request', (req, res) => {
  for (const h of handlers) h.call(server, req, res);
  req.removeAllListeners('error');
  req.on('error', () => res.destroy());
});
server.once('error', (err) => parentPort.postMessage({ error: String(err?.message ?? err) }));
server.listen(workerData.port ?? 0, '127.0.0.1', () => {
  parentPort.postMessage({ port: server.address().port });
});
parentPort.on('message', (m) => {
  if (m !== 'close') return;
  server.close(() => {
    parentPort.postMessage('closed');
    process.exit(0);
  });
  server.closeAllConnections();
});
