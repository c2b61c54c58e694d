/** Minimal typings of the `dynalite` package (it ships none): its programmatic API. */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** LevelDB folder; in memory when omitted. */
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    ssl?: boolean;
    verbose?: boolean;
    debug?: boolean;
  }

  /** Creates (does not start) a DynamoDB-compatible HTTP server; `close()` also closes the store. */
  function dynalite(options?: DynaliteOptions): Server;
  export default dynalite;
}
