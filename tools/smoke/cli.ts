import { parseArgs } from 'node:util';
import { runSmokeChecks, SmokeFailure, type SmokeTarget } from './checks.js';
import { awsSmokeTarget, localSmokeTarget } from './target.js';

export const USAGE = `usage: npm run smoke -- --target <API base URL> [--timeout <seconds>]
       [--api-key-id ID --user-pool-id ID --client-id ID [--region R]]

  A real checkout end to end: readiness, a pm_card_visa order that reaches CONFIRMED, a
  pm_card_declined order that ends CANCELLED with its stock back. Exits 0 when every check held,
  1 with one line naming the first that did not, 2 for a usage mistake.

  --target      the API: the local stack (http://127.0.0.1:3000, dev tokens) or a deployed stage's
                ApiUrl output (its customer signed in through Cognito, admin calls SigV4-signed
                with the default AWS credentials)
  --timeout     how long each order may take to reach its final status (default 120)
  AWS only, from the stage's outputs: --api-key-id (SmokeTestApiKeyId), --user-pool-id
  (UserPoolId), --client-id (SmokeTestClientId); --region when the URL does not name one.`;

/** Where the smoke test writes: stdout for each check that passed, stderr for the one failure. */
export interface SmokeIo {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: SmokeIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Runs the smoke test and returns the exit code: 0 passed, 1 a check failed, 2 usage. */
export async function runSmoke(argv: readonly string[], io: SmokeIo = consoleIo): Promise<number> {
  let target: SmokeTarget;
  let orderTimeoutMs: number;
  try {
    ({ target, orderTimeoutMs } = parse(argv));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`smoke: ${error.message}`);
    io.err(USAGE);
    return 2;
  }
  io.out(`smoke: ${target.baseUrl}`);
  try {
    await runSmokeChecks(target, { orderTimeoutMs }, io.out);
  } catch (error) {
    const message = error instanceof SmokeFailure ? error.message : `unexpected error: ${String(error)}`;
    io.err(`smoke: FAILED: ${message}`);
    return 1;
  }
  io.out('smoke: passed');
  return 0;
}

function parse(argv: readonly string[]): { target: SmokeTarget; orderTimeoutMs: number } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        target: { type: 'string' },
        timeout: { type: 'string' },
        'api-key-id': { type: 'string' },
        'user-pool-id': { type: 'string' },
        'client-id': { type: 'string' },
        region: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const option = (name: string) => {
    const value = values[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };

  const given = option('target');
  if (!given) throw new UsageError('--target <API base URL> is required');
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new UsageError(`--target must be an absolute URL, got "${given}"`);
  }
  const timeout = Number(option('timeout') ?? '120');
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 900) {
    throw new UsageError(`--timeout must be a number of seconds from 1 to 900, got "${option('timeout')}"`);
  }
  const orderTimeoutMs = timeout * 1000;

  if (LOOPBACK.has(url.hostname)) return { target: localSmokeTarget(given), orderTimeoutMs };
  if (url.protocol !== 'https:') throw new UsageError(`a deployed API is reached over https, got "${given}"`);
  const missing = ['api-key-id', 'user-pool-id', 'client-id'].filter((name) => !option(name));
  if (missing.length > 0) {
    throw new UsageError(
      `a deployed API needs ${missing.map((name) => `--${name}`).join(', ')} (the stage's outputs)`,
    );
  }
  const region = option('region') ?? EXECUTE_API_HOST.exec(url.hostname)?.[1];
  if (!region) throw new UsageError(`--region is needed: ${url.hostname} does not name one`);
  return {
    target: awsSmokeTarget(given, {
      region,
      apiKeyId: option('api-key-id') as string,
      userPoolId: option('user-pool-id') as string,
      clientId: option('client-id') as string,
    }),
    orderTimeoutMs,
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/;
