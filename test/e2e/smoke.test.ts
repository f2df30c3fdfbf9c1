import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../local/aws/local-account.js';
import { findFreePort } from '../../local/ports.js';
import { createAdminClient } from '../../tools/ops/admin-client.js';
import { startIamGateway } from '../support/aws-control-plane.js';
import { freeStackPorts, newDataDir, type StackProcess, spawnStack } from '../support/local-stack-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const execFileAsync = promisify(execFile);

interface SmokeRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The smoke test as the pipeline runs it (`npm run smoke -- ...`), in its own process. */
async function smoke(args: readonly string[]): Promise<SmokeRun> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', 'bin/smoke.ts', ...args],
      { cwd: ROOT, timeout: 50_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

describe('npm run smoke against the local stack', () => {
  let stack: StackProcess;

  beforeAll(async () => {
    stack = await spawnStack({ ports: await freeStackPorts(), dataDir: await newDataDir() });
  });
  afterAll(async () => {
    stack?.kill('SIGINT');
    await stack?.exited;
  });
  afterEach(async () => {
    await fetch(`${stack.providerUrl}/control/faults`, { method: 'DELETE' });
  });

  async function injectProviderFault(fault: { errorRate?: number; latencyMs?: number }) {
    const response = await fetch(`${stack.providerUrl}/control/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fault),
    });
    expect(response.status).toBe(200);
  }

  async function product(sku: string) {
    const response = await fetch(`${stack.apiUrl}/v1/admin/products/${sku}`, {
      headers: { authorization: 'Bearer admin' },
    });
    return (await response.json()) as { onHand: number; reserved: number; available: number };
  }

  test('stocks its product in AWS with a SigV4-signed PUT, its body under the signature', async () => {
    const gateway = await startIamGateway({
      apiUrl: stack.apiUrl,
      stageName: 'staging',
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const signed = createAdminClient(gateway.url, {
        kind: 'sigv4',
        region: 'us-east-1',
        credentials: LOCAL_CREDENTIALS,
      });
      const forged = createAdminClient(gateway.url, {
        kind: 'sigv4',
        region: 'us-east-1',
        credentials: { ...LOCAL_CREDENTIALS, secretAccessKey: 'not-the-secret' },
      });
      const input = { name: 'Signed', priceCents: 250, currency: 'USD', onHand: 7 };

      const put = await signed.request('PUT', '/v1/admin/products/SIGNED-1', input);

      expect(put).toMatchObject({ status: 200, body: { sku: 'SIGNED-1', onHand: 7, available: 7 } });
      await expect(forged.request('PUT', '/v1/admin/products/SIGNED-1', input)).rejects.toThrow(/HTTP 403/);
      expect(await product('SIGNED-1')).toMatchObject({ onHand: 7 });
    } finally {
      await gateway.close();
    }
  });

  test('passes: ready, a card checkout CONFIRMED, a declined one CANCELLED with its stock back', async () => {
    const run = await smoke(['--target', stack.apiUrl]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('ok readiness: ready');
    expect(run.stdout).toMatch(/ok checkout pm_card_visa: order [0-9a-f-]{36} CONFIRMED/);
    expect(run.stdout).toMatch(/ok checkout pm_card_declined: order [0-9a-f-]{36} CANCELLED, stock back/);
    expect(lines(run.stdout).at(-1)).toBe('smoke: passed');
    // It stocks its own product (every run from the same on-hand), and only the confirmed order sold one.
    expect(await product('SMOKE-TEST')).toMatchObject({ onHand: 999, reserved: 0, available: 999 });
  });

  test('fails with one line when a checkout does not reach CONFIRMED (every provider call fails)', async () => {
    await injectProviderFault({ errorRate: 1 });

    const run = await smoke(['--target', stack.apiUrl, '--timeout', '40']);

    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^smoke: FAILED: checkout pm_card_visa: order [0-9a-f-]{36} ended (CANCELLED|REQUIRES_ATTENTION)\b.*, expected CONFIRMED\n$/,
    );
    expect(run.stdout).not.toContain('smoke: passed');
  });

  test('fails with one line when an order is still in flight after --timeout (the wait is bounded)', async () => {
    await injectProviderFault({ latencyMs: 60_000 });

    const run = await smoke(['--target', stack.apiUrl, '--timeout', '2']);

    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^smoke: FAILED: order [0-9a-f-]{36} is still PENDING after 2 s, expected a final status\n$/,
    );
  });
});

describe('npm run smoke without a stack', () => {
  test('fails with one line when the API is down', async () => {
    const port = await findFreePort();

    const run = await smoke(['--target', `http://127.0.0.1:${port}`]);

    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      `smoke: FAILED: cannot reach the API at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
  });

  test('refuses a deployed target without the stage outputs it signs in with, naming them', async () => {
    const run = await smoke([
      '--target',
      'https://abc123.execute-api.eu-west-1.amazonaws.com/staging/',
      '--user-pool-id',
      'eu-west-1_abc',
    ]);

    expect(run.code).toBe(2);
    expect(lines(run.stderr)[0]).toBe(
      "smoke: a deployed API needs --api-key-id, --client-id (the stage's outputs)",
    );
  });

  test('refuses to run without --target', async () => {
    const run = await smoke([]);

    expect(run.code).toBe(2);
    expect(lines(run.stderr)[0]).toBe('smoke: --target <API base URL> is required');
  });
});
