import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../local/aws/local-account.js';
import { type LocalStackState, STATE_FILE } from '../../local/stack-state.js';
import { type StandIn, startCloudFormationStandIn, startIamGateway } from '../support/aws-control-plane.js';
import { freeStackPorts, newDataDir, type StackProcess, spawnStack } from '../support/local-stack-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** STS's GetCallerIdentity (the Query protocol), answering one principal: who `ops` records. */
async function startStsStandIn(arn: string): Promise<StandIn> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response
        .writeHead(200, { 'content-type': 'text/xml' })
        .end(
          `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
            `<Arn>${arn}</Arn><UserId>AROAEXAMPLE:olga</UserId><Account>123456789012</Account>` +
            `</GetCallerIdentityResult><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
const execFileAsync = promisify(execFile);

interface OpsRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('npm run ops against the local stack and, with --stage, against AWS stand-ins', () => {
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

  /** The CLI as operators run it (`npm run ops -- ...`), in its own process. */
  async function ops(args: readonly string[], env: Record<string, string> = {}): Promise<OpsRun> {
    try {
      const { stdout, stderr } = await execFileAsync(
        process.execPath,
        ['--import', 'tsx', 'bin/ops.ts', ...args],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            LOCAL_DATA_DIR: dataDir,
            ...env,
          },
        },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  /** Exactly what an operator types: `npm run ops -- <args>`, npm's own banner included. */
  async function npmOps(args: readonly string[], env: Record<string, string> = {}): Promise<OpsRun> {
    try {
      const { stdout, stderr } = await execFileAsync('npm', ['run', 'ops', '--', ...args], {
        cwd: ROOT,
        env: { ...process.env, LOCAL_DATA_DIR: dataDir, ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  async function json<T>(args: readonly string[], env?: Record<string, string>): Promise<T> {
    const run = await ops([...args, '--json'], env);
    if (run.code !== 0) throw new Error(`ops ${args.join(' ')} failed: ${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  }

  /** One clear line on stderr, no stack trace. */
  function expectOneErrorLine(run: OpsRun, pattern: RegExp) {
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toMatch(pattern);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  }

  async function checkout(paymentMethod: string, sku: string): Promise<string> {
    const response = await fetch(`${stack.apiUrl}/v1/checkout`, {
      method: 'POST',
      headers: {
        Authorization: 'Bearer dev-olga',
        'Idempotency-Key': `${paymentMethod}-${sku}-${Date.now()}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        items: [{ sku, quantity: 1 }],
        currency: 'USD',
        paymentMethod,
        storeCreditCents: 0,
      }),
    });
    return ((await response.json()) as { orderId: string }).orderId;
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
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  type AdminOrder = { status: string; saga: { status: string }; compensation: { status: string } | null };
  const adminOrder = (orderId: string) => json<AdminOrder>(['order', orderId]);

  describe('a void that keeps failing, fixed by the operator', () => {
    let retried: string;
    let redriven: string;

    beforeAll(async () => {
      [retried, redriven] = await Promise.all([
        checkout('pm_void_fails', 'SKU-3'),
        checkout('pm_void_fails', 'SKU-3'),
      ]);
      for (const orderId of [retried, redriven]) {
        await waitFor(
          () => adminOrder(orderId),
          (order) => order.compensation?.status === 'FAILED',
          `the compensation of ${orderId} reaching the DLQ`,
        );
      }
      // The row says FAILED at the last attempt; SQS moves the message at its next receive, once
      // that attempt's visibility timeout is over.
      await waitFor(
        () => json<{ approximateCount: number }>(['dlq', 'peek']),
        (dlq) => dlq.approximateCount === 2,
        'both messages in the DLQ',
      );
    });

    test('order shows REQUIRES_ATTENTION, the failed saga, the compensation and the timeline', async () => {
      const human = await ops(['order', retried]);

      expect(human.code).toBe(0);
      expect(human.stdout).toContain(`order ${retried}  REQUIRES_ATTENTION`);
      expect(human.stdout).toMatch(/saga\s+FAILED/);
      // How many attempts is the worker's to count (test/saga); a record lost to a busy database
      // leaves one fewer here, so the line is checked for its shape.
      expect(human.stdout).toMatch(
        new RegExp(`compensation\\s+${retried}:compensation FAILED after [1-5] attempts?`),
      );
      expect(human.stdout).toMatch(/ORDER_PLACED[\s\S]*PAYMENT_AUTHORIZED[\s\S]*ORDER_REQUIRES_ATTENTION/);
    });

    test('compensations --status lists both failed compensations', async () => {
      const { items } = await json<{ items: { orderId: string }[] }>(['compensations', '--status', 'failed']);
      const human = await ops(['compensations', '--status', 'FAILED']);

      expect(items.map((item) => item.orderId).sort()).toEqual([retried, redriven].sort());
      expect(human.stdout).toMatch(/^COMPENSATION\s+STATUS\s+ATTEMPTS/);
      expect(human.stdout).toContain(`${redriven}:compensation  FAILED`);
    });

    test('dlq peek reads the messages and leaves them in the DLQ', async () => {
      const first = await json<{ approximateCount: number; messages: { body: { orderId: string } }[] }>([
        'dlq',
        'peek',
      ]);
      const second = await json<{ approximateCount: number }>(['dlq', 'peek']);

      expect(first.approximateCount).toBe(2);
      expect(first.messages.map((message) => message.body.orderId).sort()).toEqual(
        [retried, redriven].sort(),
      );
      expect(second.approximateCount).toBe(2);
    });

    test('retry-matching counts the FAILED compensations a filter matches, and retries none when the confirmed count is stale', async () => {
      const count = await json<{ matching: number; compensationIds: string[] }>([
        'retry-matching',
        '--customer',
        'olga',
      ]);
      const refused = await ops(['retry-matching', '--customer', 'olga', '--expect', '3']);
      const after = await json<{ items: { status: string }[] }>(['compensations', '--customer', 'olga']);

      expect(count.matching).toBe(2);
      expect(count.compensationIds.sort()).toEqual(
        [`${retried}:compensation`, `${redriven}:compensation`].sort(),
      );
      expect(refused.code).toBe(1);
      expectOneErrorLine(
        refused,
        /^ops: the filter now matches 2 failed compensation\(s\), not the 3 confirmed: nothing was retried; look again$/,
      );
      expect(after.items.map((item) => item.status)).toEqual(['FAILED', 'FAILED']);
    });

    test('retry, once the cause is fixed, resolves the order: CANCELLED; a second retry is refused', async () => {
      await fetch(`${stack.providerUrl}/control/faults`, { method: 'DELETE' });

      const retry = await ops(['retry', `${retried}:compensation`]);

      expect(retry.code).toBe(0);
      // PENDING, or RETRYING when the worker took the message before the route read the row back.
      expect(retry.stdout).toMatch(
        new RegExp(`queued compensation ${retried}:compensation again \\(now (PENDING|RETRYING)\\)`),
      );
      const order = await waitFor(
        () => adminOrder(retried),
        (o) => o.status === 'CANCELLED',
        'the retried order',
      );
      expect(order.compensation?.status).toBe('RESOLVED');
      const again = await ops(['retry', `${retried}:compensation`]);
      expect(again.code).toBe(1);
      expectOneErrorLine(again, /^ops: COMPENSATION_ALREADY_RESOLVED: /);
    });

    test('redrive reports the move task until it completes and leaves the DLQ empty; the order is CANCELLED', async () => {
      const redrive = await ops(['redrive', '--rate', '1', '--reason', 'provider fixed']);

      expect(redrive.code).toBe(0);
      expect(redrive.stdout).toMatch(/redriving about 2 message\(s\) .* at 1 a second/);
      expect(redrive.stdout).toMatch(/^ {2}COMPLETED: 2 of 2 moved$/m);
      expect(redrive.stdout).toMatch(/moved 2 message\(s\) .* the DLQ now holds 0/);
      await waitFor(
        () => adminOrder(redriven),
        (o) => o.status === 'CANCELLED',
        'the redriven order',
      );
      expect((await json<{ approximateCount: number }>(['dlq', 'peek'])).approximateCount).toBe(0);
      const { entries } = await json<{
        entries: { action: string; reason: string; detail: Record<string, string> }[];
      }>(['log']);
      expect(entries[0]).toMatchObject({
        action: 'redrive dlq',
        reason: 'provider fixed',
        detail: { moved: '2', ratePerSecond: '1' },
      });
      // npm run redrive is the short form of the same command.
      const short = await execFileAsync('npm', ['run', '--silent', 'redrive'], {
        cwd: ROOT,
        env: { ...process.env, LOCAL_DATA_DIR: dataDir },
      });
      expect(short.stdout).toMatch(/the compensation DLQ is empty: nothing to redrive/);
    });
  });

  describe('mistakes get one clear line and a non-zero exit', () => {
    test.each([
      [['order', '00000000-0000-4000-8000-000000000000'], 1, /^ops: ORDER_NOT_FOUND: /],
      [['order', 'not-an-order'], 1, /^ops: ORDER_NOT_FOUND: /],
      [['retry', 'no-such-compensation'], 1, /^ops: COMPENSATION_NOT_FOUND: /],
      [
        ['redrive-execution', '00000000-0000-4000-8000-000000000000'],
        1,
        /^ops: redrive-execution needs AWS \(--stage <name>\)/,
      ],
      [['refund', 'everything'], 2, /^ops: unknown command refund$/],
      [['retry'], 2, /^ops: retry takes one compensation id$/],
      [['compensations', '--colour'], 2, /^ops: Unknown option '--colour'/],
    ] as const)('ops %j exits %i', async (args, code, message) => {
      const run = await ops(args);

      expect(run.code).toBe(code);
      expectOneErrorLine(run, message);
    });

    test('npm run ops -- retry <unknown id> prints one line and exits 1, with the stack running and without', async () => {
      const running = await npmOps(['retry', 'no-such-compensation']);
      const stopped = await npmOps(['retry', 'no-such-compensation'], {
        LOCAL_DATA_DIR: path.join(dataDir, 'nowhere'),
      });

      for (const run of [running, stopped]) {
        expect(run.code).toBe(1);
        // npm prints the script it runs ("> serverless-checkout@… ops", "> tsx bin/ops.ts …"); nothing else.
        expect(run.stdout.split('\n').filter((line) => line !== '' && !line.startsWith('> '))).toEqual([]);
        expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
      }
      expect(running.stderr).toMatch(/^ops: COMPENSATION_NOT_FOUND: /);
      expect(stopped.stderr).toMatch(/^ops: no local stack found in .*nowhere: start it with npm start/);
    });

    test('without a running stack it says how to start one', async () => {
      const run = await ops(['compensations'], { LOCAL_DATA_DIR: path.join(dataDir, 'nowhere') });

      expect(run.code).toBe(1);
      expectOneErrorLine(run, /^ops: no local stack found in .*nowhere: start it with npm start/);
    });

    test('--json errors are one JSON line on stderr', async () => {
      const run = await ops(['retry', 'no-such-compensation', '--json']);

      expect(run.code).toBe(1);
      expect(JSON.parse(run.stderr.trim())).toEqual({
        error: expect.stringMatching(/^COMPENSATION_NOT_FOUND/),
      });
    });

    test('the new admin routes refuse a customer token over HTTP', async () => {
      const orderId = await checkout('pm_card_visa', 'SKU-1');

      const order = await fetch(`${stack.apiUrl}/v1/admin/orders/${orderId}`, {
        headers: { Authorization: 'Bearer dev-olga' },
      });
      const retry = await fetch(`${stack.apiUrl}/v1/admin/compensations/${orderId}:compensation/retry`, {
        method: 'POST',
        headers: { Authorization: 'Bearer dev-olga' },
      });

      expect([order.status, retry.status]).toEqual([403, 403]);
      expect(((await order.json()) as { code: string }).code).toBe('FORBIDDEN');
    });
  });

  describe('--stage: stack outputs from CloudFormation, SigV4-signed admin calls', () => {
    let cloudFormation: StandIn;
    let gateway: Awaited<ReturnType<typeof startIamGateway>>;
    let stageEnv: Record<string, string>;
    let sts: StandIn;
    const OPERATOR_ARN = 'arn:aws:sts::123456789012:assumed-role/checkout-e2e-operator/olga';

    beforeAll(async () => {
      gateway = await startIamGateway({
        apiUrl: stack.apiUrl,
        stageName: 'e2e',
        credentials: LOCAL_CREDENTIALS,
      });
      const before = {
        CompensationQueueArn: state.compensationQueueArn,
        CompensationDlqArn: state.compensationDlqArn,
      };
      cloudFormation = await startCloudFormationStandIn({
        'checkout-e2e-stateful': {
          ...before,
          OperatorControlsTableName: state.switches.operatorControlsTableName,
        },
        'checkout-e2e-stateless': {
          ApiUrl: gateway.url,
          PaymentSagaArn: state.stateMachineArn,
          CompensationWorkerMappingId: state.switches.compensationWorkerMappingId,
          JobScheduleNames: state.switches.jobScheduleNames.join(','),
        },
        // A stage deployed before the kill switches: none of their outputs.
        'checkout-old-stateful': before,
        'checkout-old-stateless': { ApiUrl: gateway.url, PaymentSagaArn: state.stateMachineArn },
      });
      sts = await startStsStandIn(OPERATOR_ARN);
      stageEnv = {
        LOCAL_DATA_DIR: path.join(dataDir, 'not-used-with-a-stage'),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_PROFILE: '',
        AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.url,
        AWS_ENDPOINT_URL_SQS: state.sqsEndpoint,
        AWS_ENDPOINT_URL_SFN: state.stepFunctionsEndpoint,
        AWS_ENDPOINT_URL_DYNAMODB: state.switches.dynamoDbEndpoint,
        AWS_ENDPOINT_URL_LAMBDA: state.switches.controlPlaneEndpoint,
        AWS_ENDPOINT_URL_SCHEDULER: state.switches.controlPlaneEndpoint,
        AWS_ENDPOINT_URL_STS: sts.url,
      };
    });
    afterAll(async () => {
      await sts?.close();
      await cloudFormation?.close();
      await gateway?.close();
    });

    test('order, compensations, dlq peek and redrive work through the stage outputs', async () => {
      const orderId = await checkout('pm_card_visa', 'SKU-1');
      await waitFor(
        () => adminOrder(orderId),
        (o) => o.status === 'CONFIRMED',
        'the visa order',
      );
      const signedBefore = gateway.signedRequests();

      const order = await json<AdminOrder>(['order', orderId, '--stage', 'e2e'], stageEnv);
      const compensations = await ops(['compensations', '--stage', 'e2e'], stageEnv);
      const peek = await ops(['dlq', 'peek', '--stage', 'e2e'], stageEnv);
      const redrive = await ops(['redrive', '--stage', 'e2e'], stageEnv);

      expect(order).toMatchObject({ status: 'CONFIRMED', saga: { status: 'SUCCEEDED' } });
      expect(compensations.stdout).toMatch(/RESOLVED/);
      expect(peek.stdout).toMatch(/the compensation DLQ holds about 0 message/);
      expect(redrive.stdout).toMatch(/nothing to redrive/);
      expect(gateway.signedRequests() - signedBefore).toBe(2);
    });

    test('redrive-execution refuses an execution that did not fail, and an order without one', async () => {
      const orderId = await checkout('pm_card_visa', 'SKU-1');
      await waitFor(
        () => adminOrder(orderId),
        (o) => o.saga.status === 'SUCCEEDED',
        'the visa saga',
      );

      const succeeded = await ops(['redrive-execution', orderId, '--stage', 'e2e'], stageEnv);
      const missing = await ops(
        ['redrive-execution', '00000000-0000-4000-8000-000000000000', '--stage', 'e2e'],
        stageEnv,
      );

      expect(succeeded.code).toBe(1);
      expectOneErrorLine(
        succeeded,
        /^ops: the saga execution of order .* is SUCCEEDED: only FAILED, TIMED_OUT, ABORTED/,
      );
      expect(missing.code).toBe(1);
      expectOneErrorLine(missing, /^ops: order 0{8}-.* has no saga execution in stage e2e$/);
    });

    test('switch worker off and on through the stage outputs, recorded with the principal STS names; a stage without the outputs says to deploy', async () => {
      const off = await ops(
        ['switch', 'worker', 'off', '--stage', 'e2e', '--reason', 'stage test'],
        stageEnv,
      );
      const listed = await json<{ switches: { name: string; state: string; changedBy: string }[] }>(
        ['switch', 'list', '--stage', 'e2e'],
        stageEnv,
      );
      const on = await ops(['switch', 'worker', 'on', '--stage', 'e2e'], stageEnv);
      const old = await ops(['switch', 'list', '--stage', 'old'], stageEnv);

      expect(off.code).toBe(0);
      expect(off.stdout).toMatch(/^worker is off in stage e2e: /m);
      expect(listed.switches.find((view) => view.name === 'worker')).toMatchObject({
        state: 'off',
        changedBy: OPERATOR_ARN,
      });
      expect(on.code).toBe(0);
      expect(old.code).toBe(1);
      expectOneErrorLine(old, /^ops: stage old has no kill switches yet: deploy the current version/);
    });

    test('a stage that is not deployed, and credentials the gateway does not accept, are clear errors', async () => {
      const unknown = await ops(['compensations', '--stage', 'nope'], stageEnv);
      const forged = await ops(['compensations', '--stage', 'e2e'], {
        ...stageEnv,
        AWS_SECRET_ACCESS_KEY: 'wrong',
      });

      expect(unknown.code).toBe(1);
      expectOneErrorLine(unknown, /^ops: stack checkout-nope-state(ful|less) does not exist in us-east-1/);
      expect(forged.code).toBe(1);
      expectOneErrorLine(forged, /^ops: HTTP 403: The request signature we calculated does not match/);
    });
  });
});
