/**
 * Seeds a deployed system's table from a config file (same format as config/demo.json): its users
 * (passwords hashed), groups with members and partner agreements — what `npm start` does locally at
 * start (local/seed.ts), here against DynamoDB in AWS with the caller's credentials. Items named in the
 * file are created or replaced; nothing else is touched. Typically run once after `cdk deploy`, to
 * create the first administrator and the agreement with each partner.
 *
 *   npm run seed:table -- --config systems.json --system primary.example --table <TableName output>
 *     [--region eu-west-1] [--endpoint http://127.0.0.1:4567]
 */
import { parseArgs } from 'node:util';
import { createDocumentClient } from '#adapters/dynamo/clients.ts';
import { Store } from '#adapters/dynamo/store.ts';
import { loadLocalConfig, resolveSystems } from '#local/config.ts';
import { seedSystem } from '#local/seed.ts';

const USAGE =
  'usage: npm run seed:table -- --config FILE --system DOMAIN --table NAME [--region REGION] [--endpoint URL]';

const main = async () => {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      system: { type: 'string' },
      table: { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return console.log(USAGE);
  if (!values.config || !values.system || !values.table) {
    console.error(USAGE);
    process.exit(2);
  }
  if (values.region) process.env.AWS_REGION = values.region;
  const cfg = resolveSystems(loadLocalConfig(values.config)).find((s) => s.domain === values.system);
  if (!cfg) {
    console.error(`${values.config} has no system ${values.system}`);
    process.exit(2);
  }
  const store = new Store(createDocumentClient(values.endpoint), values.table);
  await seedSystem(cfg, store);
  console.log(
    `seeded ${values.table}: ${cfg.users.length} users, ${cfg.groups.length} groups, ${cfg.agreements.length} agreements of ${cfg.domain}`,
  );
};

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
