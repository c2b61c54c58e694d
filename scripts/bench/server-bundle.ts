/**
 * The systems' process of the benchmark (scripts/bench/server.ts) compiled as the deployed code is:
 * one ES module bundled by esbuild, as `cdk synth` bundles each function and `npm run build:edge`
 * bundles the edge (decision 0016). The dependencies stay outside the bundle (`packages: 'external'`)
 * and load from node_modules, which is why the bundle is written under node_modules/.cache.
 *
 * Why not the tsx loader: tsx compiles with esbuild's `keepNames`, which wraps every function and class
 * expression in a `__name(fn, "…")` call that defines a `name` property on each closure when it is
 * created. Each such closure then carries a dictionary of its own properties (about 250 bytes): the
 * per-leg callbacks of the edge alone were 42 MB of a 228 MB heap in the 2-minute N = 100 run.
 * No deployed code pays this.
 *
 * `import.meta.url` is replaced, file by file, by the URL of the source file it is written in, so
 * paths found relative to a module (the dynalite worker, the function bundles' worker, the repository
 * root) still resolve as they do from the sources.
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ENTRY = 'scripts/bench/server.ts';
export const SERVER_BUNDLE = 'node_modules/.cache/mcptt-bench/server.mjs';

/** Each source file's `import.meta.url` becomes that file's own URL (a string literal). */
const sourceMetaUrl: Plugin = {
  name: 'source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

/** Bundles server.ts into {@link SERVER_BUNDLE} (about a second); returns the bundle's absolute path. */
export const bundleServer = async (root = process.cwd()): Promise<string> => {
  const outfile = resolve(root, SERVER_BUNDLE);
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    keepNames: false,
    plugins: [sourceMetaUrl],
    logLevel: 'warning',
  });
  return outfile;
};
