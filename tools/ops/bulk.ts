import { setTimeout as sleep } from 'node:timers/promises';
import { ListMessageMoveTasksCommand, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { approximateQueueDepth } from '../../local/aws/sqs.js';
import { OpsError } from './errors.js';
import { appendOperatorLog } from './operator-log.js';
import { readSwitches } from './switches.js';
import type { OpsTarget } from './target.js';

/**
 * The operator actions the CLI and the console share (docs/console.md): one implementation of
 * each, called by `npm run ops -- <command>` and by the console's pages alike.
 */

/** `GET /v1/admin/compensations`'s filters, as docs/openapi.yaml names them. */
export interface CompensationFilter {
  readonly status?: string;
  readonly step?: string;
  readonly error?: string;
  readonly olderThanMinutes?: string;
  readonly customerId?: string;
  readonly limit?: string;
}

export const FILTER_NAMES = ['status', 'step', 'error', 'olderThanMinutes', 'customerId'] as const;

/** A compensation as the admin API lists it. */
export interface CompensationItem {
  readonly compensationId: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly status: string;
  readonly steps: readonly string[];
  readonly attempts: number;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly resolvedAt: string | null;
  readonly owed: {
    readonly reservedItems: readonly { sku: string; quantity: number }[];
    readonly storeCreditCents: number;
    readonly card: { status: string; amountCents: number };
  };
}

/** The compensations matching `filter`, unresolved first (the admin API's order). */
export async function fetchCompensations(
  target: OpsTarget,
  filter: CompensationFilter,
): Promise<CompensationItem[]> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filter)) if (value) query.set(name, value);
  const suffix = query.size > 0 ? `?${query}` : '';
  const { body } = await target.admin.request('GET', `/v1/admin/compensations${suffix}`);
  return body.items as CompensationItem[];
}

/** What "Retry all matching" would retry: the FAILED compensations among the filter's matches. */
export async function retryCandidates(
  target: OpsTarget,
  filter: CompensationFilter,
): Promise<CompensationItem[]> {
  return fetchCompensations(target, { ...filter, status: 'FAILED', limit: '100' });
}

/** One step of a long action, for a progress bar. */
export interface ActionProgress {
  readonly done: number;
  readonly total: number | undefined;
  readonly status: string;
}

export interface RetryMatchingResult {
  readonly retried: readonly string[];
  readonly failed: readonly { compensationId: string; error: string }[];
}

/**
 * Retries every FAILED compensation matching `filter`, at most `ratePerSecond`, once the operator
 * confirmed how many: if the filter now matches another number, nothing is retried and the error
 * says so (a count that changed under the confirmation is a set the operator did not look at).
 * Each retry goes through the admin route, which records it on the order's timeline; the bulk
 * action itself goes to the operator log.
 */
export async function retryMatching(
  target: OpsTarget,
  request: {
    readonly filter: CompensationFilter;
    readonly expected: number;
    readonly ratePerSecond: number;
    readonly reason: string;
  },
  onProgress: (progress: ActionProgress) => void = () => {},
): Promise<RetryMatchingResult> {
  const candidates = await retryCandidates(target, request.filter);
  if (candidates.length !== request.expected) {
    throw new OpsError(
      `the filter now matches ${candidates.length} failed compensation(s), not the ${request.expected} confirmed: nothing was retried; look again`,
    );
  }
  const retried: string[] = [];
  const failed: { compensationId: string; error: string }[] = [];
  const gapMs = 1000 / request.ratePerSecond;
  for (const [index, candidate] of candidates.entries()) {
    if (index > 0) await sleep(gapMs);
    try {
      await target.admin.request(
        'POST',
        `/v1/admin/compensations/${encodeURIComponent(candidate.compensationId)}/retry`,
      );
      retried.push(candidate.compensationId);
    } catch (error) {
      failed.push({
        compensationId: candidate.compensationId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    onProgress({ done: index + 1, total: candidates.length, status: 'RUNNING' });
  }
  await logAction(target, 'retry matching', request.reason, {
    filter: describeFilter(request.filter),
    retried: String(retried.length),
    failed: String(failed.length),
    ratePerSecond: String(request.ratePerSecond),
  });
  onProgress({ done: candidates.length, total: candidates.length, status: 'COMPLETED' });
  return { retried, failed };
}

/** SQS's bounds of `MaxNumberOfMessagesPerSecond`. */
export const MAX_REDRIVE_RATE = 500;

/**
 * Moves the compensation DLQ back to its queue with a message move task at `ratePerSecond`
 * (StartMessageMoveTask's `MaxNumberOfMessagesPerSecond`), telling `onProgress` each poll, and
 * records it in the operator log. A DLQ already empty starts no task.
 */
export async function moveDeadLetters(
  target: OpsTarget,
  request: { readonly ratePerSecond?: number; readonly reason: string },
  onProgress: (progress: ActionProgress) => void = () => {},
): Promise<{ moved: number; remaining: number }> {
  const before = await approximateQueueDepth(target.sqs, target.deadLetterQueue.url);
  if (before === 0) return { moved: 0, remaining: 0 };
  await target.sqs.send(
    new StartMessageMoveTaskCommand({
      SourceArn: target.deadLetterQueue.arn,
      DestinationArn: target.compensationQueue.arn,
      ...(request.ratePerSecond ? { MaxNumberOfMessagesPerSecond: request.ratePerSecond } : {}),
    }),
  );
  const deadline = Date.now() + 6 * 60 * 60_000;
  let moved = 0;
  for (;;) {
    // Only one task runs per DLQ, and they are listed newest first: the first is ours.
    const { Results = [] } = await target.sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: target.deadLetterQueue.arn, MaxResults: 1 }),
    );
    const task = Results[0];
    moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    const status = task?.Status ?? 'UNKNOWN';
    onProgress({ done: moved, total: task?.ApproximateNumberOfMessagesToMove, status });
    if (status === 'COMPLETED') break;
    if (status === 'FAILED' || status === 'CANCELLED') {
      throw new OpsError(
        `the DLQ redrive ended ${status}: ${task?.FailureReason ?? 'no reason given'}; ${moved} moved`,
      );
    }
    if (Date.now() > deadline)
      throw new OpsError(`the DLQ redrive is still ${status} after 6 hours; ${moved} moved`);
    // AWS reports progress every few seconds; the local task moves its batch once a second.
    await sleep(target.saga ? 2_000 : 250);
  }
  const remaining = await approximateQueueDepth(target.sqs, target.deadLetterQueue.url);
  await logAction(target, 'redrive dlq', request.reason, {
    moved: String(moved),
    ratePerSecond: request.ratePerSecond ? String(request.ratePerSecond) : 'unlimited',
  });
  return { moved, remaining };
}

/** What needs an operator now: the console's header, `ops attention`. */
export interface Attention {
  readonly dlqDepth: number;
  /** The oldest unresolved compensation, if any. */
  readonly oldestUnresolved: {
    readonly compensationId: string;
    readonly orderId: string;
    readonly createdAt: string;
  } | null;
  /** Up to 100: the admin API's page. */
  readonly unresolvedCount: number;
  /** Switches that are not on (off, or changing). */
  readonly switchesOff: readonly string[];
}

export async function readAttention(target: OpsTarget): Promise<Attention> {
  const [dlqDepth, unresolved, switches] = await Promise.all([
    approximateQueueDepth(target.sqs, target.deadLetterQueue.url),
    fetchCompensations(target, { status: 'UNRESOLVED', limit: '100' }),
    target.controls ? readSwitches(target.controls) : Promise.resolve([]),
  ]);
  const oldest = [...unresolved].sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0];
  return {
    dlqDepth,
    oldestUnresolved: oldest
      ? { compensationId: oldest.compensationId, orderId: oldest.orderId, createdAt: oldest.createdAt }
      : null,
    unresolvedCount: unresolved.length,
    switchesOff: switches.filter((view) => view.state !== 'on').map((view) => view.name),
  };
}

export function describeFilter(filter: CompensationFilter): string {
  const parts = FILTER_NAMES.flatMap((name) => (filter[name] ? [`${name}=${filter[name]}`] : []));
  return parts.length > 0 ? parts.join(' ') : 'all';
}

/** The operator log, when the target has one (a stage deployed before it has not). */
async function logAction(target: OpsTarget, action: string, reason: string, detail: Record<string, string>) {
  if (!target.controls) return;
  await appendOperatorLog(target.controls, {
    at: new Date().toISOString(),
    by: await target.controls.whoAmI(),
    action,
    reason,
    detail,
  });
}
