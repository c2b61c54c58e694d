/**
 * The call setup workflow's ASL for the local runtime, built in a child process.
 *
 * Why a child: lib/call-setup-asl.ts builds the ASL from the stack's own construct, so the local
 * workflow is exactly the deployed one; that needs aws-cdk-lib, which stays loaded in whatever process
 * imports it: about 17 MB of V8 heap and 40 MB of RSS, for a 3.5 KB document read once at start-up.
 * In a long-running systems process that is memory every garbage collection walks and sizes the heap
 * from. The child builds it and exits; each process asks once per option set.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LocalCallSetupAsl } from '../lib/call-setup-asl.ts';

const ENTRY = fileURLToPath(new URL('./print-call-setup-asl.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

const built = new Map<string, Promise<LocalCallSetupAsl>>();

/** The ASL `callSetupAsl(opts)` returns, computed in a child process (tsx loader); memoized. */
export const callSetupAslInChild = (
  opts: { partnerTimeoutSeconds?: number } = {},
): Promise<LocalCallSetupAsl> => {
  const key = JSON.stringify(opts);
  let p = built.get(key);
  if (!p) {
    p = new Promise<LocalCallSetupAsl>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', ENTRY, key],
        { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } },
        (error, stdout, stderr) => {
          if (error)
            reject(new Error(`building the call setup ASL failed: ${stderr.trim() || error.message}`));
          else resolve(JSON.parse(stdout) as LocalCallSetupAsl);
        },
      );
    });
    built.set(key, p);
    p.catch(() => built.delete(key));
  }
  return p;
};
