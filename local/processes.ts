import { isTransientDatabaseError } from '../src/db/errors.js';

/** Whether a process with this pid exists on this machine (signal 0 checks without signalling). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Keeps a process of the local tools alive through one known library fault: postgres.js 3.4.9
 * discards the promise of the catalog query it runs first on every new connection
 * (porsager/postgres#1192), so a connection that the database cuts during that query (a restart,
 * a terminated backend: what the chaos mix does) rejects with nobody listening, and Node would end
 * the process. Only such connection losses are tolerated, and logged; any other unhandled
 * rejection still ends the process, as Node's default does. The functions' containers keep Node's
 * behaviour, as Lambda's runtime would (docs/PERFORMANCE.md, "Chaos mix with database faults").
 */
export function tolerateDiscardedDatabaseRejections(log: (line: string) => void): void {
  process.on('unhandledRejection', (reason) => {
    if (!isTransientDatabaseError(reason)) throw reason;
    log(`a database connection was lost outside any query (${String(reason)}); continuing`);
  });
}
