import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLocalSqsClient } from '../../local/aws/sqs.js';
import { type LocalStackState, STATE_FILE } from '../../local/stack-state.js';
import { freeStackPorts, newDataDir, type StackProcess, spawnStack } from '../support/local-stack-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const execFileAsync = promisify(execFile);
/** The stack under test retries a compensation after this many seconds (spawnStack's setting). */
const RETRY_SECONDS = 2;

describe('kill switches against the local stack, with npm run ops (docs/runbooks/kill-switches.md)', () => {
  let dataDir: string;
  let stack: StackProcess;
  let state: LocalStackState;

  beforeAll(async () => {
    dataDir = await newDataDir();
    stack = await spawnStack({ ports: await freeStackPorts(), dataDir });
    state = JSON.parse(await readFile(path.join(dataDir, STATE_FILE), 'utf8')) as LocalStackState;
  });
  afterAll(async () => {
    stack?.kill('SIGINT');
    await stack?.exited;
  });

  async function ops(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await execFileAsync(
        process.execPath,
        ['--import', 'tsx', 'bin/ops.ts', ...args],
        {
          cwd: ROOT,
          env: { ...process.env, LOCAL_DATA_DIR: dataDir },
        },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  async function opsJson<T>(args: readonly string[]): Promise<T> {
    const run = await ops([...args, '--json']);
    if (run.code !== 0) throw new Error(`ops ${args.join(' ')}: ${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  }

  function checkout(key: string, paymentMethod = 'pm_card_visa') {
    return fetch(`${stack.apiUrl}/v1/checkout`, {
      method: 'POST',
      headers: {
        Authorization: 'Bearer dev-olga',
        'Idempotency-Key': key,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        items: [{ sku: 'SKU-1', quantity: 1 }],
        currency: 'USD',
        paymentMethod,
        storeCreditCents: 0,
      }),
    });
  }

  async function waitFor<T>(
    read: () => Promise<T>,
    done: (value: T) => boolean,
    what: string,
    timeoutMs = 40_000,
  ) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline)
        throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  type AdminOrder = {
    status: string;
    compensation: { compensationId: string; status: string; attempts: number } | null;
  };
  const adminOrder = async (orderId: string) =>
    (await (
      await fetch(`${stack.apiUrl}/v1/admin/orders/${orderId}`, {
        headers: { Authorization: 'Bearer admin' },
      })
    ).json()) as AdminOrder;

  test('checkout off: 503 CHECKOUT_PAUSED within 10 s and nothing written; on again: 202 for the same key, not a replay', async () => {
    const key = `paused-${randomUUID()}`;
    // A warm container that read the switch on: the stop must reach it through its cache's expiry.
    expect((await checkout(`warm-${randomUUID()}`)).status).toBe(202);

    const off = await ops(['switch', 'checkout', 'off', '--reason', 'e2e: provider incident']);
    // Within 10 s of the command (the acceptance bound; checkout caches the switch 5 s).
    const paused = await waitFor(
      () => checkout(key),
      (response) => response.status === 503,
      'checkout after off',
      10_000,
    );
    const problem = (await paused.json()) as { code: string };
    const on = await ops(['switch', 'checkout', 'on', '--reason', 'e2e: fixed']);
    const resumed = await waitFor(
      () => checkout(key),
      (response) => response.status !== 503,
      'checkout after on',
      10_000,
    );

    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(
      /checkout is off in the local stack: new checkouts answer 503 CHECKOUT_PAUSED/,
    );
    expect(problem.code).toBe('CHECKOUT_PAUSED');
    expect(paused.headers.get('retry-after')).toBe('30');
    expect(on.code).toBe(0);
    expect(resumed.status).toBe(202);
    // The key was never stored while paused: this is its first, not a replay of a refusal.
    expect(resumed.headers.get('idempotent-replayed')).toBeNull();
    const { switches } = await opsJson<{
      switches: { name: string; state: string; changedBy: string; reason: string }[];
    }>(['switch', 'list']);
    expect(switches.find((view) => view.name === 'checkout')).toMatchObject({
      state: 'on',
      changedBy: expect.stringMatching(/^local:/),
      reason: 'e2e: fixed',
    });
    const { entries } = await opsJson<{ entries: { action: string; reason: string }[] }>(['log']);
    expect(entries.slice(0, 2).map((entry) => entry.action)).toEqual([
      'switch checkout on',
      'switch checkout off',
    ]);
  });

  test("worker off: a new failed compensation's message waits in the queue, never received, until worker on", async () => {
    const sqs = createLocalSqsClient(state.sqsEndpoint);
    try {
      const queueName = state.compensationQueueArn.split(':').at(-1) as string;
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
      const depth = async () => {
        const { Attributes = {} } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        return {
          visible: Number(Attributes.ApproximateNumberOfMessages),
          inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
        };
      };

      const off = await ops(['switch', 'worker', 'off', '--reason', 'e2e: void failing']);
      const orderId = (
        (await (await checkout(`void-${randomUUID()}`, 'pm_void_fails')).json()) as { orderId: string }
      ).orderId;
      const queued = await waitFor(
        async () => ({ order: await adminOrder(orderId), queue: await depth() }),
        ({ order, queue }) => order.compensation !== null && queue.visible >= 1,
        'the compensation queued',
      );
      // Three retry intervals: a running worker would have received it and retried it by now.
      const observed: { inFlight: number; attempts: number }[] = [];
      const until = Date.now() + 3 * RETRY_SECONDS * 1000;
      while (Date.now() < until) {
        observed.push({
          inFlight: (await depth()).inFlight,
          attempts: (await adminOrder(orderId)).compensation?.attempts ?? -1,
        });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      // The first receive of the message is this one: the paused worker made none.
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 0,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          AttributeNames: ['All'],
        }),
      );
      const ours = Messages.find((message) => message.Body?.includes(orderId));
      const on = await ops(['switch', 'worker', 'on', '--reason', 'e2e: resume']);
      const resumed = await waitFor(
        () => adminOrder(orderId),
        (order) => (order.compensation?.attempts ?? 0) >= 1,
        'the compensation worked on after resume',
      );

      expect(off.code).toBe(0);
      expect(queued.order.compensation?.attempts).toBe(0);
      expect(observed.length).toBeGreaterThan(3);
      expect(observed.every((sample) => sample.inFlight === 0 && sample.attempts === 0)).toBe(true);
      expect(ours?.Attributes?.ApproximateReceiveCount).toBe('1');
      expect(on.code).toBe(0);
      expect(resumed.compensation?.attempts).toBeGreaterThanOrEqual(1);
    } finally {
      sqs.destroy();
    }
  });

  test('jobs off: the outbox relay publishes nothing until jobs on', async () => {
    const events = async () => readFile(path.join(dataDir, 'events.jsonl'), 'utf8').catch(() => '');

    const off = await ops(['switch', 'jobs', 'off', '--reason', 'e2e: event bus incident']);
    const orderId = ((await (await checkout(`jobs-${randomUUID()}`)).json()) as { orderId: string }).orderId;
    await waitFor(
      () => adminOrder(orderId),
      (order) => order.status === 'CONFIRMED',
      'the order confirmed',
    );
    // Three relay intervals (1 s locally): a running relay would have published the order's events.
    const until = Date.now() + 3000;
    let published = false;
    while (Date.now() < until) {
      published ||= (await events()).includes(orderId);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const listed = await opsJson<{ switches: { name: string; state: string }[] }>(['switch', 'list']);
    const on = await ops(['switch', 'jobs', 'on', '--reason', 'e2e: resume']);
    await waitFor(events, (text) => text.includes(orderId), 'the events published after jobs on');

    expect(off.code).toBe(0);
    expect(published).toBe(false);
    expect(listed.switches.find((view) => view.name === 'jobs')?.state).toBe('off');
    expect(on.code).toBe(0);
  });

  test('a mistake gets one line and exit 2', async () => {
    const run = await ops(['switch', 'payments', 'off']);

    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe('ops: switch takes list, or checkout|worker|jobs and on|off');
  });
});
