/**
 * Bundles the SIP edge's container entry point (edge/main.ts) into one ES module, dist/edge.mjs (with
 * its source map), as the Dockerfile's build stage does: `npm run build:edge`.
 */
import { build } from 'esbuild';

/** ESM output has no `require`, which bundled CommonJS dependencies still call; this gives them one. */
const REQUIRE_BANNER =
  "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

const outfile = process.argv[2] ?? 'dist/edge.mjs';
const result = await build({
  entryPoints: ['edge/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  sourcemap: true,
  minify: false,
  mainFields: ['module', 'main'],
  banner: { js: REQUIRE_BANNER },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`${outfile}: ${(bytes / 1024).toFixed(0)} KiB (with source map)`);
