/**
 * `npm start`: runs the MCPTT systems of a configuration on this machine (127.0.0.1 only) —
 * by default `primary.example` and `partner.example` from config/demo.json — with their data on
 * disk under .data/ (kept across restarts). Prints what runs where, then a line with `ready`.
 *
 *   npm start -- [--config FILE] [--data-dir DIR] [--reset] [--memory] [--quiet] [--bundles DIR] [--metrics]
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadLocalConfig } from './config.ts';
import { startLocalSystems } from './systems.ts';

const USAGE = `usage: npm start -- [options]
  --config FILE    systems, users, groups and agreements (default config/demo.json)
  --data-dir DIR   where each system keeps its data (default .data)
  --reset          wipe the data first
  --memory         keep data in memory only
  --quiet          do not log each HTTP request
  --bundles DIR    run the functions from the bundles \`cdk synth\` wrote to DIR (npm run synth: cdk.out),
                   what is deployed, instead of the source modules
  --metrics        the functions print their CloudWatch EMF metric lines (off by default)
  --help           this text`;

const main = async () => {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const started = Date.now();
  const configFile = args.config ?? 'config/demo.json';
  const config = loadLocalConfig(configFile);
  const dataDir = args.memory ? undefined : (args['data-dir'] ?? '.data');
  const quiet = args.quiet ?? false;
  const local = await startLocalSystems(config, {
    ...(dataDir ? { dataDir } : {}),
    reset: args.reset ?? false,
    ...(args.bundles ? { bundles: args.bundles } : {}),
    metrics: args.metrics ?? false,
    ...(quiet
      ? {}
      : {
          sipLog: (line: string) => console.log(`  ${line}`),
          onRequest: (r) => console.log(`  [${r.system}] ${r.method} ${r.path} → ${r.status} (${r.ms} ms)`),
        }),
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    await local.stop();
    console.log(`stopped; ${dataDir ? `data kept in ${dataDir}/` : 'data was in memory only'}`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  // Ready means: every system answers its health check over HTTP.
  for (const s of local.systems) {
    const res = await fetch(`${s.url}/health`);
    if (!res.ok) throw new Error(`${s.domain} is not healthy: HTTP ${res.status} ${await res.text()}`);
  }

  const first = local.systems[0];
  console.log(`mcptt-regroup: ${local.systems.length} MCPTT systems from ${configFile}`);
  console.log(
    dataDir ? `data: ${dataDir}/<system>/ (kept across restarts; --reset wipes)` : 'data: in memory',
  );
  const bundles = first?.bundles?.bundles;
  if (bundles) {
    console.log(
      `functions: the deployed bundles in ${bundles.dir} (cdk synth), one worker thread per function and system`,
    );
  }
  for (const s of local.systems) {
    console.log(
      `  ${s.domain.padEnd(18)} HTTP API ${s.url}   SIP edge udp+tcp 127.0.0.1:${s.sipPort}   edge control ${s.control.url}`,
    );
  }
  if (first) {
    console.log('try:');
    console.log(`  curl -s ${first.url}/health`);
    console.log(
      `  curl -s -X POST ${first.url}/auth/token -H 'content-type: application/json' -d '{"username":"dispatcher","password":"dispatcher-pass"}'`,
    );
    console.log('  (README.md walks through a regroup across both systems)');
  }
  console.log(
    `ready: ${local.systems.map((s) => s.domain).join(', ')} accept traffic (${Date.now() - started} ms)`,
  );
};

const parse = () =>
  parseArgs({
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      reset: { type: 'boolean' },
      memory: { type: 'boolean' },
      quiet: { type: 'boolean' },
      bundles: { type: 'string' },
      metrics: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }).values;

main().catch((e) => {
  if (e instanceof ConfigError) console.error(e.message);
  else if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`cannot start: ${(e as Error).message} (is another npm start running?)`);
  } else console.error(e);
  process.exit(1);
});
