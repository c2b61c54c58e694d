/**
 * Child process entry of local/call-setup-asl-child.ts: prints the call setup workflow's ASL, built by
 * lib/call-setup-asl.ts from the stack's own construct, as JSON on stdout.
 *
 *   node --import tsx local/print-call-setup-asl.ts '{"partnerTimeoutSeconds":5}'
 */
import { callSetupAsl } from '../lib/call-setup-asl.ts';

const opts = JSON.parse(process.argv[2] ?? '{}') as { partnerTimeoutSeconds?: number };
process.stdout.write(JSON.stringify(callSetupAsl(opts)));
