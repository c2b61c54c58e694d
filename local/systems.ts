/** Starts every system of a configuration (the embedded default of `npm start`), and stops them. */
import { type LocalConfig, resolveSystems } from './config.ts';
import { type LocalSystem, type StartSystemOptions, startSystem } from './system.ts';

export interface LocalSystems {
  systems: LocalSystem[];
  get(domain: string): LocalSystem;
  stop(): Promise<void>;
}

export const startLocalSystems = async (
  config: LocalConfig,
  opts: StartSystemOptions & {
    /**
     * Start only these systems of the configuration (the others run elsewhere, e.g. in another
     * process, at the ports the configuration gives them); default: all.
     */
    only?: readonly string[];
  } = {},
): Promise<LocalSystems> => {
  const resolved = resolveSystems(config).filter(
    (s) => opts.only === undefined || opts.only.includes(s.domain),
  );
  const started: LocalSystem[] = [];
  try {
    for (const cfg of resolved) started.push(await startSystem(cfg, opts));
  } catch (e) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw e;
  }
  return {
    systems: started,
    get(domain) {
      const s = started.find((x) => x.domain === domain);
      if (!s) throw new Error(`no local system ${domain}`);
      return s;
    },
    async stop() {
      await Promise.allSettled(started.map((s) => s.stop()));
    },
  };
};
