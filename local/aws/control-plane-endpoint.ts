import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, listen } from './http-server.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './local-account.js';

/**
 * Something the local stack runs that an operator can pause: an event source mapping's poller or
 * a schedule's timer. `stop()` waits for the run in progress, as disabling a mapping in AWS lets
 * the batch in flight finish.
 */
export interface Pausable {
  start(): void;
  stop(): Promise<void>;
}

/** An event source mapping the endpoint serves, by its UUID. */
export interface LocalEventSourceMapping {
  readonly uuid: string;
  readonly functionArn: string;
  readonly eventSourceArn: string;
  readonly runner: Pausable;
}

/** A schedule the endpoint serves, by its name (group `default`). */
export interface LocalSchedule {
  readonly name: string;
  readonly expression: string;
  readonly targetArn: string;
  readonly runner: Pausable;
}

export interface LocalControlPlaneEndpoint {
  /** For a `LambdaClient`'s and a `SchedulerClient`'s `endpoint`. */
  readonly endpoint: string;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

/**
 * The slice of the Lambda and EventBridge Scheduler control planes the operators' kill switches
 * use (docs/adr/0024-operator-console-and-kill-switches.md), over their REST-JSON wire protocols:
 * `GetEventSourceMapping` / `UpdateEventSourceMapping` (`Enabled`) and `GetSchedule` /
 * `UpdateSchedule` (`State`). A disabled mapping stops its poller (no receive is made, so no
 * receive count grows); a disabled schedule stops its timer. Both start again when enabled.
 *
 * What is disabled is kept in `stateFile`, so a paused worker stays paused across a restart of
 * the local stack, as it would in AWS. Requests are not signed-checked: only operators call it.
 */
export async function startLocalControlPlaneEndpoint(options: {
  readonly mappings: readonly LocalEventSourceMapping[];
  readonly schedules: readonly LocalSchedule[];
  readonly stateFile: string;
  readonly port?: number;
}): Promise<LocalControlPlaneEndpoint> {
  const disabled = new Set<string>(await readDisabled(options.stateFile));
  const transitions = new Map<string, Promise<void>>();
  const mappings = new Map(options.mappings.map((mapping) => [mapping.uuid, mapping]));
  const schedules = new Map(options.schedules.map((schedule) => [schedule.name, schedule]));
  for (const runnable of [
    ...options.mappings.map((m) => [m.uuid, m.runner] as const),
    ...options.schedules.map((s) => [s.name, s.runner] as const),
  ]) {
    const [key, runner] = runnable;
    if (!disabled.has(key)) runner.start();
  }

  /** Enables or disables `key`: reported as Enabling/Disabling until the runner has started or stopped. */
  const setEnabled = async (key: string, runner: Pausable, enabled: boolean) => {
    if (enabled === !disabled.has(key)) return;
    if (enabled) disabled.delete(key);
    else disabled.add(key);
    const previous = transitions.get(key) ?? Promise.resolve();
    const next = (async () => {
      await previous;
      await writeFile(options.stateFile, `${JSON.stringify([...disabled], null, 2)}\n`);
      if (enabled) runner.start();
      else await runner.stop();
    })();
    transitions.set(key, next);
    try {
      await next;
    } finally {
      if (transitions.get(key) === next) transitions.delete(key);
    }
  };

  const mappingView = (mapping: LocalEventSourceMapping) => ({
    UUID: mapping.uuid,
    FunctionArn: mapping.functionArn,
    EventSourceArn: mapping.eventSourceArn,
    State: transitions.has(mapping.uuid)
      ? disabled.has(mapping.uuid)
        ? 'Disabling'
        : 'Enabling'
      : disabled.has(mapping.uuid)
        ? 'Disabled'
        : 'Enabled',
    LastModified: Date.now() / 1000,
  });
  const scheduleView = (schedule: LocalSchedule) => ({
    Name: schedule.name,
    GroupName: 'default',
    Arn: `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:schedule/default/${schedule.name}`,
    State: disabled.has(schedule.name) ? 'DISABLED' : 'ENABLED',
    ScheduleExpression: schedule.expression,
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: {
      Arn: schedule.targetArn,
      RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${schedule.name}-invoke`,
    },
  });

  const route = async (method: string, url: URL, body: Json): Promise<[number, Json]> => {
    const mappingMatch = /^\/2015-03-31\/event-source-mappings\/([^/]+)\/?$/.exec(url.pathname);
    if (mappingMatch) {
      const mapping = mappings.get(decodeURIComponent(mappingMatch[1] as string));
      if (!mapping)
        return [404, notFound('ResourceNotFoundException', 'The resource you requested does not exist.')];
      if (method === 'PUT') {
        if (typeof body.Enabled === 'boolean') {
          // AWS answers at once with Enabling/Disabling; the change completes in the background.
          setEnabled(mapping.uuid, mapping.runner, body.Enabled).catch((error: unknown) => {
            console.error(`[lambda] event source mapping ${mapping.uuid}: ${String(error)}`);
          });
        }
        return [202, mappingView(mapping)];
      }
      return [200, mappingView(mapping)];
    }
    const scheduleMatch = /^\/schedules\/([^/]+)\/?$/.exec(url.pathname);
    if (scheduleMatch) {
      const schedule = schedules.get(decodeURIComponent(scheduleMatch[1] as string));
      const group = url.searchParams.get('groupName') ?? body.GroupName ?? 'default';
      if (!schedule || group !== 'default') {
        return [404, notFound('ResourceNotFoundException', 'Schedule not found.')];
      }
      if (method === 'PUT') {
        if (body.State !== 'ENABLED' && body.State !== 'DISABLED') {
          return [400, notFound('ValidationException', 'State must be ENABLED or DISABLED.')];
        }
        await setEnabled(schedule.name, schedule.runner, body.State === 'ENABLED');
        return [200, { ScheduleArn: scheduleView(schedule).Arn }];
      }
      return [200, scheduleView(schedule)];
    }
    return [404, notFound('UnknownOperationException', `${method} ${url.pathname} is not served locally`)];
  };

  const server = createServer((request, response) => {
    void handle(request, response, route);
  });
  await listen(server, options.port ?? 0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async close() {
      await closeServer(server);
      await Promise.all(transitions.values());
    },
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  route: (method: string, url: URL, body: Json) => Promise<[number, Json]>,
): Promise<void> {
  let status = 500;
  let payload: Json = { message: 'internal error' };
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? (JSON.parse(text) as Json) : {};
    [status, payload] = await route(
      request.method ?? 'GET',
      new URL(request.url ?? '/', 'http://local'),
      body,
    );
  } catch (error) {
    status = 400;
    payload = notFound('ValidationException', error instanceof Error ? error.message : String(error));
  }
  const type = typeof payload.__type === 'string' ? payload.__type : undefined;
  response.writeHead(status, {
    'content-type': 'application/json',
    ...(type ? { 'x-amzn-errortype': type } : {}),
  });
  response.end(JSON.stringify(payload));
}

function notFound(type: string, message: string): Json {
  return { __type: type, Type: 'User', message, Message: message };
}

async function readDisabled(file: string): Promise<string[]> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}
