import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  RedriveExecutionCommand,
} from '@aws-sdk/client-sfn';
import { type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { approximateQueueDepth } from '../../local/aws/sqs.js';
import { executionArn as sagaExecutionArn } from '../../src/saga/step-functions-starter.js';
import {
  type CompensationFilter,
  describeFilter,
  fetchCompensations,
  moveDeadLetters,
  retryCandidates,
  retryMatching,
} from './bulk.js';
import { OpsError } from './errors.js';
import type { OpsTarget } from './target.js';

/** What a command prints: lines for people, one JSON document for scripts (`--json`). */
export interface CommandResult {
  readonly lines: readonly string[];
  readonly json: unknown;
}

/** Where a long-running command reports progress (people only; `--json` keeps stdout clean). */
export type Progress = (line: string) => void;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REDRIVABLE = ['FAILED', 'TIMED_OUT', 'ABORTED'];

interface Compensation {
  compensationId: string;
  status: string;
  attempts: number;
  lastError: string | null;
}

/**
 * `compensations [--status S] [--step S] [--error TEXT] [--older-than MIN] [--customer ID] [--limit N]`:
 * the audit view of compensations, unresolved first.
 */
export async function listCompensations(
  target: OpsTarget,
  filter: CompensationFilter,
): Promise<CommandResult> {
  const items = await fetchCompensations(target, filter);
  const lines =
    items.length === 0
      ? [`no compensations match (${describeFilter(filter)})`]
      : table(
          ['COMPENSATION', 'STATUS', 'ATTEMPTS', 'CUSTOMER', 'UPDATED', 'STEPS', 'LAST ERROR'],
          items.map((item) => [
            item.compensationId,
            item.status,
            String(item.attempts),
            item.customerId,
            item.updatedAt,
            item.steps.join(','),
            item.lastError ?? '',
          ]),
        );
  return { lines, json: { items } };
}

/**
 * `retry-matching [filters] [--expect N] [--rate R] [--reason "..."]`: without `--expect`, says how
 * many FAILED compensations the filter matches (nothing is retried); with it, retries them at R
 * per second if the count is still N.
 */
export async function retryMatchingCommand(
  target: OpsTarget,
  request: { filter: CompensationFilter; expected?: number; ratePerSecond: number; reason: string },
  progress: Progress,
): Promise<CommandResult> {
  if (request.expected === undefined) {
    const candidates = await retryCandidates(target, request.filter);
    return {
      lines: [
        `${candidates.length} failed compensation(s) match (${describeFilter(request.filter)}); to retry them, run this again with --expect ${candidates.length}`,
        ...candidates.map((item) => `  ${item.compensationId}  ${item.lastError ?? ''}`),
      ],
      json: { matching: candidates.length, compensationIds: candidates.map((item) => item.compensationId) },
    };
  }
  const result = await retryMatching(target, { ...request, expected: request.expected }, ({ done, total }) =>
    progress(`  retried ${done} of ${total}`),
  );
  return {
    lines: [
      `queued ${result.retried.length} compensation(s) again${result.failed.length > 0 ? `; ${result.failed.length} refused:` : ''}`,
      ...result.failed.map((failure) => `  ${failure.compensationId}: ${failure.error}`),
    ],
    json: result,
  };
}

/** `retry <compensationId>`: queue one compensation again (POST .../retry). */
export async function retryCompensation(target: OpsTarget, compensationId: string): Promise<CommandResult> {
  const { body } = await target.admin.request(
    'POST',
    `/v1/admin/compensations/${encodeURIComponent(compensationId)}/retry`,
  );
  return {
    lines: [
      `queued compensation ${compensationId} again (now ${String(body.status)}); the worker picks it up within seconds`,
    ],
    json: body,
  };
}

/** `order <orderId>`: the order's status, saga, compensation and timeline. */
export async function showOrder(target: OpsTarget, orderId: string): Promise<CommandResult> {
  const { body } = await target.admin.request('GET', `/v1/admin/orders/${encodeURIComponent(orderId)}`);
  const payment = body.payment as { status: string };
  const saga = body.saga as { status: string };
  const compensation = body.compensation as Compensation | null;
  const events = body.events as { type: string; at: string; detail: Record<string, unknown> }[];
  const lines = [
    `order ${String(body.orderId)}  ${String(body.status)}${body.cancellationReason ? ` (${String(body.cancellationReason)})` : ''}`,
    `  customer      ${String(body.customerId)}`,
    `  amounts       total ${String(body.totalCents)}, store credit ${String(body.storeCreditCents)}, card ${String(body.chargeCents)} (${String(body.currency)} cents)`,
    `  payment       ${payment.status}`,
    `  saga          ${saga.status}`,
    compensation
      ? `  compensation  ${compensation.compensationId} ${compensation.status} after ${compensation.attempts} attempt(s)${compensation.lastError ? `, last error: ${compensation.lastError}` : ''}`
      : '  compensation  none',
    '  timeline',
    ...events.map(
      (event) =>
        `    ${event.at}  ${event.type}${Object.keys(event.detail).length > 0 ? `  ${JSON.stringify(event.detail)}` : ''}`,
    ),
  ];
  return { lines, json: body };
}

/** `dlq peek [--max N]`: the messages in the compensation DLQ, read without deleting them. */
export async function peekDeadLetters(target: OpsTarget, options: { max: number }): Promise<CommandResult> {
  const depth = await approximateDepth(target, target.deadLetterQueue.url);
  const seen = new Map<string, Message>();
  // Visibility timeout 0: every message stays visible to the worker and the redrive. SQS samples
  // its servers, so a few receives are needed to see most of a small queue.
  for (let round = 0; round < 3 && seen.size < Math.min(options.max, depth); round++) {
    const { Messages = [] } = await target.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: target.deadLetterQueue.url,
        MaxNumberOfMessages: Math.min(10, options.max),
        VisibilityTimeout: 0,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
        // The older name of the same request member, which not every SQS-compatible server knows yet.
        AttributeNames: ['All'],
      }),
    );
    for (const message of Messages) {
      if (message.MessageId && seen.size < options.max) seen.set(message.MessageId, message);
    }
  }
  const messages = [...seen.values()].map((message) => ({
    messageId: message.MessageId,
    sentAt: new Date(Number(message.Attributes?.SentTimestamp ?? 0)).toISOString(),
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
    body: parseBody(message.Body),
  }));
  const lines = [
    `the compensation DLQ holds about ${depth} message(s)${messages.length < depth ? `; showing ${messages.length}` : ''}`,
    ...(messages.length === 0
      ? []
      : table(
          ['SENT', 'COMPENSATION', 'STEPS', 'ERROR'],
          messages.map(({ sentAt, body }) => [
            sentAt,
            stringField(body, 'compensationId'),
            Array.isArray(body.steps) ? body.steps.join(',') : '',
            stringField(body, 'error'),
          ]),
        )),
  ];
  return { lines, json: { approximateCount: depth, messages } };
}

/**
 * `redrive [--rate N]`: moves the compensation DLQ back to its source queue with a message move
 * task (the console's "Start DLQ redrive"), at most N messages a second, reporting the task's
 * progress until it finishes.
 */
export async function redriveDeadLetters(
  target: OpsTarget,
  progress: Progress,
  options: { ratePerSecond?: number; reason?: string } = {},
): Promise<CommandResult> {
  const before = await approximateDepth(target, target.deadLetterQueue.url);
  if (before === 0) {
    return {
      lines: ['the compensation DLQ is empty: nothing to redrive'],
      json: { moved: 0, remaining: 0 },
    };
  }
  progress(
    `redriving about ${before} message(s) from the compensation DLQ to the compensation queue${options.ratePerSecond ? ` at ${options.ratePerSecond} a second` : ''}`,
  );
  let last = '';
  const { moved, remaining } = await moveDeadLetters(
    target,
    {
      ...(options.ratePerSecond ? { ratePerSecond: options.ratePerSecond } : {}),
      reason: options.reason ?? '',
    },
    (task) => {
      const line = `  ${task.status}: ${task.done}${task.total === undefined ? '' : ` of ${task.total}`} moved`;
      if (line !== last) progress(line);
      last = line;
    },
  );
  return {
    lines: [
      `moved ${moved} message(s) from the compensation DLQ back to the compensation queue; the DLQ now holds ${remaining}`,
    ],
    json: { moved, remaining },
  };
}

/**
 * `redrive-execution <orderId>`: Step Functions RedriveExecution of the order's failed saga
 * execution, which restarts it from the state that failed. AWS only: the local interpreter cannot
 * resume an execution part-way, and re-running it from the start would act differently.
 */
export async function redriveExecution(target: OpsTarget, orderId: string): Promise<CommandResult> {
  if (!target.saga) {
    throw new OpsError(
      'redrive-execution needs AWS (--stage <name>): the local Step Functions interpreter cannot resume an ' +
        'execution from the state that failed. Locally, finish a failed compensation with ' +
        '`npm run ops -- retry <compensationId>` or `npm run ops -- redrive`.',
    );
  }
  if (!UUID.test(orderId)) throw new OpsError(`${orderId} is not an order id (a uuid)`, 2);
  const { client, stateMachineArn } = target.saga;
  const executionArn = sagaExecutionArn(stateMachineArn, orderId);
  let status: string | undefined;
  try {
    ({ status } = await client.send(new DescribeExecutionCommand({ executionArn })));
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist) {
      throw new OpsError(`order ${orderId} has no saga execution in ${target.name}`);
    }
    throw error;
  }
  if (!status || !REDRIVABLE.includes(status)) {
    throw new OpsError(
      `the saga execution of order ${orderId} is ${status}: only ${REDRIVABLE.join(', ')} executions can be redriven`,
    );
  }
  const { redriveDate } = await client.send(new RedriveExecutionCommand({ executionArn }));
  return {
    lines: [
      `redrove the ${status} saga execution of order ${orderId} at ${redriveDate?.toISOString()}; follow it with npm run ops -- order ${orderId}`,
    ],
    json: { executionArn, previousStatus: status, redriveDate: redriveDate?.toISOString() },
  };
}

function approximateDepth(target: OpsTarget, queueUrl: string): Promise<number> {
  return approximateQueueDepth(target.sqs, queueUrl);
}

function parseBody(body: string | undefined): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body ?? '');
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, unknown>)
      : { raw: body };
  } catch {
    return { raw: body };
  }
}

function stringField(body: Record<string, unknown>, name: string): string {
  return typeof body[name] === 'string' ? body[name] : '';
}

/** Left-aligned columns, two spaces apart. */
function table(header: readonly string[], rows: readonly string[][]): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
