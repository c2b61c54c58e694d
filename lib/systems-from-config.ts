/**
 * Which MCPTT systems the CDK app deploys: read from the deployment config file
 * (`{ "systems": [ { "domain": "primary.example", ... } ] }`) or from a comma-separated override
 * (`cdk synth -c systems=primary.example,partner.example`).
 *
 * Plain functions without CDK imports, so that they can be unit-tested on their own.
 */

/** Longest domain whose stack name (`Mcptt-` + domain with dashes) fits CloudFormation's 128 characters. */
export const MAX_DOMAIN_LENGTH = 122;

const STACK_ID_PREFIX = 'Mcptt-';
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Checks that `value` is a DNS domain name usable as an MCPTT system domain and returns it
 * trimmed and lower-cased (SIP hosts are compared lower-case). At least two labels, each 1–63
 * characters of `a-z`, `0-9` and inner `-`; the last label not all digits (not an IP address).
 *
 * @throws Error naming `where` and the offending value.
 */
export function validateDomain(value: unknown, where = 'domain'): string {
  if (typeof value !== 'string') {
    throw new Error(`${where}: expected a domain name string, got ${JSON.stringify(value) ?? typeof value}`);
  }
  const domain = value.trim().toLowerCase();
  if (domain === '') throw new Error(`${where}: empty domain name`);
  if (domain.length > MAX_DOMAIN_LENGTH) {
    throw new Error(
      `${where}: domain "${domain}" is longer than ${MAX_DOMAIN_LENGTH} characters (its stack name would exceed CloudFormation's 128)`,
    );
  }
  const labels = domain.split('.');
  if (labels.length < 2) {
    throw new Error(
      `${where}: "${domain}" is not a fully qualified domain name (expected e.g. primary.example)`,
    );
  }
  const bad = labels.find((l) => !LABEL.test(l));
  if (bad !== undefined) {
    throw new Error(
      `${where}: "${domain}" has an invalid label "${bad}" (labels are 1-63 characters of a-z, 0-9 and inner '-')`,
    );
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    throw new Error(`${where}: "${domain}" looks like an IP address, not a domain name`);
  }
  return domain;
}

/**
 * CDK stack id (and CloudFormation stack name) of the system `domain`:
 * `Mcptt-` followed by the domain with dots replaced by dashes, e.g. `Mcptt-primary-example`.
 */
export function stackIdFor(domain: string): string {
  return `${STACK_ID_PREFIX}${domain.replaceAll('.', '-')}`;
}

/**
 * The system domains to deploy, in order, validated and lower-cased.
 *
 * @param config - the parsed config file (only `systems[].domain` is read); ignored when `override` is given,
 *   so it may then be `undefined` (no config file).
 * @param override - comma-separated domains (CDK context `systems`), or a list of them; replaces the config's list.
 * @throws Error with a message saying what is wrong and where: malformed config, invalid domain, empty list,
 *   duplicate domain, or two domains that map to the same stack name (e.g. `a-b.example` and `a.b-example`).
 */
export function systemsFromConfig(config: unknown, override?: string | readonly string[]): string[] {
  let domains: string[];
  if (override !== undefined) {
    const raw: unknown[] = typeof override === 'string' ? override.split(',') : [...override];
    domains = raw
      .filter((d) => !(typeof d === 'string' && d.trim() === ''))
      .map((d, i) => validateDomain(d, `context "systems" entry ${i + 1}`));
    if (domains.length === 0) {
      throw new Error('context "systems": no domain given (expected e.g. -c systems=primary.example)');
    }
  } else {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new Error('config: expected a JSON object with a "systems" array');
    }
    const systems = (config as { systems?: unknown }).systems;
    if (!Array.isArray(systems)) {
      throw new Error('config: "systems" must be an array of { "domain": "..." } objects');
    }
    if (systems.length === 0) throw new Error('config: "systems" is empty: nothing to deploy');
    domains = systems.map((s: unknown, i) => {
      if (typeof s !== 'object' || s === null || Array.isArray(s)) {
        throw new Error(`config: systems[${i}] must be an object with a "domain" string`);
      }
      return validateDomain((s as { domain?: unknown }).domain, `config: systems[${i}].domain`);
    });
  }

  const byStackId = new Map<string, string>();
  for (const domain of domains) {
    const id = stackIdFor(domain);
    const previous = byStackId.get(id);
    if (previous === domain) throw new Error(`duplicate system domain "${domain}"`);
    if (previous !== undefined) {
      throw new Error(`system domains "${previous}" and "${domain}" would both deploy as stack "${id}"`);
    }
    byStackId.set(id, domain);
  }
  return domains;
}
