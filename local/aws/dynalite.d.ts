/**
 * dynalite ships no type declarations; this covers the part of its programmatic API we use.
 * @see node_modules/dynalite/index.js
 */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** Folder of the LevelDB store; in-memory when omitted. */
    path?: string;
    /** How long a new table stays CREATING. @default 500 */
    createTableMs?: number;
    /** How long a deleted table stays DELETING. @default 500 */
    deleteTableMs?: number;
    /** How long an updated table stays UPDATING. @default 500 */
    updateTableMs?: number;
    /** @default 400 */
    maxItemSizeKb?: number;
    verbose?: boolean;
    debug?: boolean;
  }

  /** Returns a plain Node.js HTTP server; `close()` also closes the store. */
  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}
