// local/bundle-worker.mjs — one deployed function bundle (cdk.out/asset.<hash>/index.mjs) in a worker
// thread of the local runtime (local/bundles.ts). The worker's process.env is the function's own
// environment, as in its Lambda container; invocations arrive as messages and answer as messages,
// events and results as JSON text (Lambda serializes them the same way).
//
// workerData: { entry: absolute path of the bundle module, exportName: its handler export }
// in:  { id, event: JSON text, context: { functionName, awsRequestId, deadline, … } }
// out: { type: 'ready' } once loaded, { type: 'init-error', error } when the module fails to load,
//      { id, ok: true, result: JSON text | null } or { id, ok: false, error: { name, message, stack } }

import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const unsupported = (name) => () => {
  throw new Error(`context.${name}() is not supported: return a promise from the handler`);
};

/** The Lambda context of one invocation, rebuilt around the deadline the parent sent. */
const contextOf = (c) => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName: c.functionName,
  functionVersion: c.functionVersion,
  invokedFunctionArn: c.invokedFunctionArn,
  memoryLimitInMB: c.memoryLimitInMB,
  awsRequestId: c.awsRequestId,
  logGroupName: c.logGroupName,
  logStreamName: c.logStreamName,
  getRemainingTimeInMillis: () => Math.max(0, c.deadline - Date.now()),
  done: unsupported('done'),
  fail: unsupported('fail'),
  succeed: unsupported('succeed'),
});

const errorOf = (e) =>
  e instanceof Error
    ? { name: e.name, message: e.message, stack: e.stack ?? '' }
    : { name: 'Error', message: String(e), stack: '' };

let handler;
try {
  const mod = await import(pathToFileURL(workerData.entry).href);
  handler = mod[workerData.exportName];
  if (typeof handler !== 'function') {
    throw new Error(`${workerData.entry} exports no function ${workerData.exportName}`);
  }
} catch (e) {
  parentPort.postMessage({ type: 'init-error', error: errorOf(e) });
  handler = undefined;
}

if (handler) {
  parentPort.on('message', async (msg) => {
    try {
      const result = await handler(JSON.parse(msg.event), contextOf(msg.context));
      parentPort.postMessage({
        id: msg.id,
        ok: true,
        result: result === undefined ? null : JSON.stringify(result),
      });
    } catch (e) {
      parentPort.postMessage({ id: msg.id, ok: false, error: errorOf(e) });
    }
  });
  parentPort.postMessage({ type: 'ready' });
}
