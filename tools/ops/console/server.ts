import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { executionArn as sagaExecutionArn } from '../../../src/saga/step-functions-starter.js';
import {
  type ActionProgress,
  type CompensationFilter,
  describeFilter,
  FILTER_NAMES,
  fetchCompensations,
  MAX_REDRIVE_RATE,
  moveDeadLetters,
  readAttention,
  retryCandidates,
  retryMatching,
} from '../bulk.js';
import { redriveExecution, retryCompensation } from '../commands.js';
import { OpsError } from '../errors.js';
import { readOperatorLog } from '../operator-log.js';
import { controlsOf, isSwitchName } from '../switch-commands.js';
import { readSwitches, setSwitch, takesEffect } from '../switches.js';
import { asOpsError, type OpsTarget } from '../target.js';
import { SCRIPT, STYLESHEET } from './html.js';
import {
  type AdminOrder,
  compensationsPage,
  confirmPage,
  errorPage,
  orderLookupPage,
  orderPage,
  type PageContext,
  switchesPage,
  type TaskView,
  taskPage,
} from './pages.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REDRIVABLE = ['FAILED', 'TIMED_OUT', 'ABORTED'];
const MAX_FORM_BYTES = 16 * 1024;

/** A running console. */
export interface OpsConsole {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The operator console (docs/console.md, docs/adr/0024): server-rendered pages on 127.0.0.1 that
 * call the same functions as `npm run ops` against the same target, with the operator's own
 * credentials. Nothing here talks to AWS or the admin API directly.
 *
 * A page in the operator's browser could be made to post to this port by any other site, so
 * every POST carries a per-process token and every request must name this host (no DNS
 * rebinding); pages forbid framing and any script or style from elsewhere.
 */
export async function startOpsConsole(
  target: OpsTarget,
  options: { readonly port?: number } = {},
): Promise<OpsConsole> {
  const csrf = randomBytes(24).toString('base64url');
  const state: ConsoleState = {
    target,
    csrf,
    tasks: new TaskRegistry(target.name),
    flashes: new Flashes(),
    async context(url) {
      const flashId = url.searchParams.get('flash');
      const notice = flashId ? this.flashes.take(flashId) : undefined;
      const attention = await readAttention(target).catch(() => undefined);
      return { target: target.name, csrf, attention, ...(notice ? { notice } : {}) };
    },
  };
  let port = 0;
  const server: Server = createServer((request, response) => {
    void serve(state, port, request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** What the handlers share: the target, the form token, running tasks, one-time notices. */
interface ConsoleState {
  readonly target: OpsTarget;
  readonly csrf: string;
  readonly tasks: TaskRegistry;
  readonly flashes: Flashes;
  /** What every page needs: the attention header, a notice left by the last action. */
  context(url: URL): Promise<PageContext>;
}

/** One request, once it passed the guards. */
interface ConsoleRequest {
  readonly method: string;
  readonly url: URL;
  readonly form: URLSearchParams;
}

/** A handler answers the requests it knows and leaves the others (undefined). */
type Handler = (state: ConsoleState, request: ConsoleRequest) => Promise<Reply | undefined>;

const HANDLERS: readonly Handler[] = [
  staticRoutes,
  compensationRoutes,
  dlqRoutes,
  taskRoutes,
  orderRoutes,
  switchRoutes,
];

async function serve(state: ConsoleState, port: number, request: IncomingMessage, response: ServerResponse) {
  const host = request.headers.host ?? '';
  // Only this machine's names for this port: a rebinding DNS name never gets a page.
  if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
    return send(response, { status: 421, type: 'text/plain', body: 'misdirected request' });
  }
  const url = new URL(request.url ?? '/', `http://${host}`);
  let reply: Reply | undefined;
  try {
    const form = await guardedForm(request, host, state.csrf);
    const parsed = { method: request.method ?? 'GET', url, form };
    for (const handler of HANDLERS) {
      reply = await handler(state, parsed);
      if (reply) break;
    }
    reply ??= {
      status: 404,
      type: 'text/html',
      body: errorPage(await state.context(url), 'compensations', `Nothing at ${url.pathname}.`),
    };
  } catch (error) {
    reply = await errorReply(state, url, error);
  }
  send(response, reply);
}

/**
 * The body of a POST, once it proved it comes from a page of this console: no other origin, and
 * the token the console put in its forms. GET has no body; other methods are refused.
 */
async function guardedForm(request: IncomingMessage, host: string, csrf: string): Promise<URLSearchParams> {
  if (request.method === 'GET') return new URLSearchParams();
  if (request.method !== 'POST') throw new OpsError(`${request.method} is not allowed`, 2);
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`)
    throw new OpsError('cross-origin request refused', 2);
  const form = new URLSearchParams(await readBody(request));
  if (!sameToken(form.get('csrf') ?? '', csrf)) {
    throw new OpsError('the form is stale: reload the page and try again', 2);
  }
  return form;
}

async function errorReply(state: ConsoleState, url: URL, error: unknown): Promise<Reply> {
  const failure = error instanceof OpsError ? error : asOpsError(error, state.target.name);
  const section = url.pathname.startsWith('/switches')
    ? 'switches'
    : url.pathname.startsWith('/orders')
      ? 'order'
      : 'compensations';
  const context = await state
    .context(url)
    .catch((): PageContext => ({ target: state.target.name, csrf: state.csrf, attention: undefined }));
  return {
    status: failure.exitCode === 2 ? 400 : 502,
    type: 'text/html',
    body: errorPage(context, section, failure.message),
  };
}

async function staticRoutes(
  _state: ConsoleState,
  { method, url }: ConsoleRequest,
): Promise<Reply | undefined> {
  if (method !== 'GET') return undefined;
  if (url.pathname === '/') return redirect('/compensations');
  if (url.pathname === '/console.css') return { status: 200, type: 'text/css', body: STYLESHEET };
  if (url.pathname === '/console.js') return { status: 200, type: 'text/javascript', body: SCRIPT };
  return undefined;
}

/** The failed compensations: the list, one retry, and retry all matching with its confirmation. */
async function compensationRoutes(
  state: ConsoleState,
  { method, url, form }: ConsoleRequest,
): Promise<Reply | undefined> {
  const { target } = state;
  const path = url.pathname;
  if (method === 'GET' && path === '/compensations') {
    const filter = filterOf(url.searchParams);
    const items = await fetchCompensations(target, { ...filter, limit: '100' });
    return page(compensationsPage(await state.context(url), filter, items));
  }
  if (method === 'POST' && path === '/compensations/retry') {
    const compensationId = form.get('compensationId') ?? '';
    const result = await retryCompensation(target, compensationId);
    return redirect(withFlash(form.get('returnTo'), state.flashes.add(result.lines.join(' '))));
  }
  if (method === 'GET' && path === '/compensations/retry-matching') {
    const filter = filterOf(url.searchParams);
    const candidates = await retryCandidates(target, filter);
    return page(
      confirmPage(await state.context(url), {
        title: 'Retry all matching',
        summary: `This retries ${candidates.length} failed compensation(s) matching ${describeFilter(filter)}${candidates.length >= 100 ? ' (the first 100: run it again for the rest)' : ''}. Each retry is recorded on its order's timeline.`,
        action: '/compensations/retry-matching',
        fields: { ...filter, expected: String(candidates.length) },
        items: candidates.map(
          (item) => `${item.orderId} (${item.customerId}): ${item.lastError ?? 'no error recorded'}`,
        ),
        rateLabel: 'Retries per second',
        rate: '5',
        button: `Retry ${candidates.length} compensation(s)`,
      }),
    );
  }
  if (method === 'POST' && path === '/compensations/retry-matching') {
    const filter = filterOf(form);
    const expected = integerField(form, 'expected', 0, 100);
    const ratePerSecond = integerField(form, 'rate', 1, 50);
    const reason = form.get('reason') ?? '';
    const id = state.tasks.start(`Retrying ${expected} compensation(s)`, async (progress) => {
      const result = await retryMatching(target, { filter, expected, ratePerSecond, reason }, progress);
      return `COMPLETED: ${result.retried.length} queued again${result.failed.length > 0 ? `, ${result.failed.length} refused (${result.failed.map((f) => f.error).join('; ')})` : ''}`;
    });
    return redirect(`/tasks/${id}`);
  }
  return undefined;
}

/** Redrive DLQ, with its confirmation. */
async function dlqRoutes(
  state: ConsoleState,
  { method, url, form }: ConsoleRequest,
): Promise<Reply | undefined> {
  const { target } = state;
  const path = url.pathname;
  if (method === 'GET' && path === '/dlq/redrive') {
    const rate = String(integerField(url.searchParams, 'rate', 1, MAX_REDRIVE_RATE));
    const depth = (await readAttention(target)).dlqDepth;
    return page(
      confirmPage(await state.context(url), {
        title: 'Redrive the DLQ',
        summary: `This moves about ${depth} message(s) from the compensation DLQ back to the compensation queue, where the worker takes them again.`,
        action: '/dlq/redrive',
        fields: {},
        items: [],
        rateLabel: 'Messages per second',
        rate,
        button: `Redrive ${depth} message(s)`,
      }),
    );
  }
  if (method === 'POST' && path === '/dlq/redrive') {
    const ratePerSecond = integerField(form, 'rate', 1, MAX_REDRIVE_RATE);
    const reason = form.get('reason') ?? '';
    const id = state.tasks.start(
      `Redriving the DLQ at ${ratePerSecond} message(s) a second`,
      async (progress) => {
        const { moved, remaining } = await moveDeadLetters(target, { ratePerSecond, reason }, progress);
        return `COMPLETED: ${moved} moved; the DLQ now holds ${remaining}`;
      },
    );
    return redirect(`/tasks/${id}`);
  }
  return undefined;
}

/** A long action's page and the JSON its script polls. */
async function taskRoutes(state: ConsoleState, { method, url }: ConsoleRequest): Promise<Reply | undefined> {
  const taskMatch = /^\/tasks\/([0-9a-f-]{36})(\.json)?$/.exec(url.pathname);
  if (method !== 'GET' || !taskMatch) return undefined;
  const task = state.tasks.get(taskMatch[1] as string);
  if (!task) {
    return {
      status: 404,
      type: 'text/html',
      body: errorPage(
        await state.context(url),
        'compensations',
        'No such task (the console was restarted?).',
      ),
    };
  }
  if (taskMatch[2]) return { status: 200, type: 'application/json', body: JSON.stringify(task) };
  return page(taskPage(await state.context(url), task));
}

/** An order: lookup, its page, and Redrive execution. */
async function orderRoutes(state: ConsoleState, { method, url }: ConsoleRequest): Promise<Reply | undefined> {
  const { target } = state;
  const path = url.pathname;
  if (method === 'GET' && path === '/orders') {
    const orderId = url.searchParams.get('orderId')?.trim();
    if (orderId) return redirect(`/orders/${encodeURIComponent(orderId)}`);
    return page(orderLookupPage(await state.context(url)));
  }
  const orderMatch = /^\/orders\/([^/]+)(\/redrive-execution)?$/.exec(path);
  if (orderMatch) {
    const orderId = decodeURIComponent(orderMatch[1] as string);
    if (!UUID.test(orderId)) throw new OpsError(`${orderId} is not an order id (a uuid)`, 2);
    if (method === 'POST' && orderMatch[2]) {
      const result = await redriveExecution(target, orderId);
      return redirect(withFlash(`/orders/${orderId}`, state.flashes.add(result.lines.join(' '))));
    }
    if (method === 'GET' && !orderMatch[2]) {
      const { body } = await target.admin.request('GET', `/v1/admin/orders/${encodeURIComponent(orderId)}`);
      const order = body as unknown as AdminOrder;
      return page(orderPage(await state.context(url), order, sagaLinks(target, order)));
    }
  }

  return undefined;
}

/** The kill switches and the operator log. */
async function switchRoutes(
  state: ConsoleState,
  { method, url, form }: ConsoleRequest,
): Promise<Reply | undefined> {
  const { target } = state;
  const path = url.pathname;
  if (method === 'GET' && path === '/switches') {
    const controls = controlsOf(target);
    const [switches, log] = await Promise.all([readSwitches(controls), readOperatorLog(controls, 20)]);
    return page(switchesPage(await state.context(url), switches, log));
  }
  if (method === 'POST' && path === '/switches') {
    const name = form.get('name') ?? '';
    const value = form.get('value');
    if (!isSwitchName(name) || (value !== 'on' && value !== 'off'))
      throw new OpsError('unknown switch or value', 2);
    await setSwitch(controlsOf(target), { name, value, reason: (form.get('reason') ?? '').slice(0, 500) });
    return redirect(
      withFlash('/switches', state.flashes.add(`${name} is ${value}: ${takesEffect(name, value)}`)),
    );
  }
  return undefined;
}

/** Long actions (a bulk retry, a redrive) run in this process; their pages poll them. */
class TaskRegistry {
  private readonly tasks = new Map<string, { -readonly [K in keyof TaskView]: TaskView[K] }>();
  constructor(private readonly targetName: string) {}

  get(id: string): TaskView | undefined {
    return this.tasks.get(id);
  }

  /** Starts `run` and returns the task's id at once; `run` resolves with the final summary. */
  start(title: string, run: (progress: (p: ActionProgress) => void) => Promise<string>): string {
    const id = randomUUID();
    const task = {
      id,
      title,
      status: 'RUNNING' as TaskView['status'],
      done: 0,
      total: null as number | null,
      summary: 'starting',
    };
    this.tasks.set(id, task);
    run((progress) => {
      task.done = progress.done;
      task.total = progress.total ?? null;
      task.summary = `${progress.status}: ${progress.done}${progress.total === undefined ? '' : ` of ${progress.total}`} done`;
    }).then(
      (summary) => {
        task.status = 'COMPLETED';
        task.summary = summary;
      },
      (error: unknown) => {
        task.status = 'FAILED';
        task.summary = asOpsError(error, this.targetName).message;
      },
    );
    return id;
  }
}

/** What an action says on the page it redirects to, by a random id rather than text in the URL. */
class Flashes {
  private readonly messages = new Map<string, string>();

  add(message: string): string {
    const id = randomUUID();
    this.messages.set(id, message);
    // Read soon or never: a notice does not linger.
    setTimeout(() => this.messages.delete(id), 60_000).unref();
    return id;
  }

  take(id: string): string | undefined {
    return this.messages.get(id);
  }
}

interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: string;
  readonly location?: string;
}

const page = (body: string): Reply => ({ status: 200, type: 'text/html', body });
const redirect = (location: string): Reply => ({ status: 303, type: 'text/plain', body: '', location });

function send(response: ServerResponse, reply: Reply): void {
  response.writeHead(reply.status, {
    'content-type': `${reply.type}; charset=utf-8`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // Not no-referrer: with it, browsers send `Origin: null` on form posts, which the origin check refuses.
    'referrer-policy': 'same-origin',
    'x-frame-options': 'DENY',
    'content-security-policy':
      "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ...(reply.location ? { location: reply.location } : {}),
  });
  response.end(reply.body);
}

function filterOf(params: URLSearchParams): CompensationFilter {
  return Object.fromEntries(
    FILTER_NAMES.flatMap((name) => {
      const value = params.get(name)?.trim();
      return value ? [[name, value]] : [];
    }),
  );
}

function integerField(params: URLSearchParams, name: string, min: number, max: number): number {
  const raw = params.get(name) ?? '';
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new OpsError(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(raw)}`, 2);
  }
  return value;
}

/** A path of this console (never another site) with a flash message id. */
function withFlash(returnTo: string | null, flashId: string): string {
  const path = returnTo?.startsWith('/') && !returnTo.startsWith('//') ? returnTo : '/compensations';
  const url = new URL(path, 'http://console');
  url.searchParams.set('flash', flashId);
  return `${url.pathname}${url.search}`;
}

function sagaLinks(target: OpsTarget, order: AdminOrder): { consoleUrl?: string; redrivable: boolean } {
  if (!target.saga) return { redrivable: false };
  const executionArn = sagaExecutionArn(target.saga.stateMachineArn, order.orderId);
  const region = executionArn.split(':')[3];
  return {
    consoleUrl: `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`,
    redrivable: REDRIVABLE.includes(order.saga.status),
  };
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new OpsError('the form is too large', 2);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `npm run ops -- console`: serves until Ctrl-C. */
export async function serveConsole(
  target: OpsTarget,
  options: { readonly port?: number; readonly out: (line: string) => void },
): Promise<{ lines: string[]; json: unknown }> {
  const opsConsole = await startOpsConsole(target, options.port === undefined ? {} : { port: options.port });
  options.out(`the operator console for ${target.name}: ${opsConsole.url} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await opsConsole.close();
  return { lines: ['console stopped'], json: { url: opsConsole.url, stopped: true } };
}
