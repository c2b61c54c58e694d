// functions/health/handler.ts — GET /health → the table answers → 200, else 503.
import { type AppDeps, depsFromEnv } from '../shared/deps.ts';
import { httpFunction, once } from '../shared/http-function.ts';

export const buildHandler = (deps: () => Promise<AppDeps> = once(() => depsFromEnv())) =>
  httpFunction<AppDeps>(
    {
      'GET /health': async ({ deps }) => {
        const started = Date.now();
        try {
          await deps.store.ping();
          return { status: 200, body: { status: 'ok', system: deps.system, tableMs: Date.now() - started } };
        } catch (e) {
          return {
            status: 503,
            body: { status: 'unavailable', system: deps.system, reason: (e as Error).message },
          };
        }
      },
    },
    deps,
  );

export const handler = buildHandler();
