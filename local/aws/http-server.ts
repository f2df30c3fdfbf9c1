import type { Server } from 'node:http';

/** Starts `server` on `host:port` and resolves once it accepts connections. */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Stops accepting connections and resolves when the server has closed. SDK clients keep sockets
 * alive, and an SQS long poll can hold one for seconds, so open connections are cut rather than
 * awaited: these servers are only ever stopped when the whole local stack goes down.
 */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
