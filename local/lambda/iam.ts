import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { closeServer, listen } from '../aws/http-server.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../aws/local-account.js';
import type { PolicyStatement } from './template.js';

/**
 * IAM for the local functions (docs/adr/0013): each function's containers sign their AWS calls
 * with an access key that names its role; a small proxy in front of each stand-in reads the key
 * from the SigV4 `Authorization` header, the action from `X-Amz-Target` (or the query `Action`)
 * and the resource from the request (table, queue, state machine or execution ARN), and answers
 * AccessDenied as AWS would unless the role's statements allow the call. Signatures are not
 * verified: this checks what the template grants, not who is calling. Requests signed with any
 * other key (the local stack's own clients, `npm run ops`, tests) pass unchecked.
 */

/** A role the proxies know, by the access key its functions sign with. */
export interface LocalPrincipal {
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>`, quoted in AccessDenied messages. */
  readonly arn: string;
  readonly statements: readonly PolicyStatement[];
}

export type Service = 'dynamodb' | 'sqs' | 'states';

/** Whether `statements` allow `action` on `resource`: an explicit Deny wins, no Allow is a deny. */
export function isAllowed(statements: readonly PolicyStatement[], action: string, resource: string): boolean {
  let allowed = false;
  for (const statement of statements) {
    const matches =
      statement.actions.some((pattern) => wildcard(pattern, action, true)) &&
      statement.resources.some((pattern) => wildcard(pattern, resource, false));
    if (!matches) continue;
    if (statement.effect === 'Deny') return false;
    allowed = true;
  }
  return allowed;
}

const patterns = new Map<string, RegExp>();

/** IAM's `*` and `?` wildcards; actions compare case-insensitively, resources exactly. */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let regex = patterns.get(key);
  if (!regex) {
    const source = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.');
    regex = new RegExp(`^${source}$`, ignoreCase ? 'i' : '');
    patterns.set(key, regex);
  }
  return regex.test(value);
}

/** One AWS call as IAM sees it. */
export interface AwsRequest {
  readonly action: string;
  readonly resources: readonly string[];
}

const arn = (service: string, rest: string) =>
  `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${rest}`;

/** The IAM action of a batch operation is that of the single one. */
const SQS_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/** Reads the action and resources of a request to a stand-in, from its target and body. */
export function awsRequestOf(service: Service, operation: string, body: Record<string, unknown>): AwsRequest {
  switch (service) {
    case 'dynamodb': {
      const tables = new Set<string>();
      if (typeof body.TableName === 'string') tables.add(body.TableName);
      for (const name of Object.keys((body.RequestItems as object | undefined) ?? {})) tables.add(name);
      for (const item of (body.TransactItems as Record<string, { TableName?: string }>[] | undefined) ?? []) {
        for (const part of Object.values(item)) if (part?.TableName) tables.add(part.TableName);
      }
      const resources = [...tables].map((table) => arn('dynamodb', `table/${table}`));
      return { action: `dynamodb:${operation}`, resources: resources.length > 0 ? resources : ['*'] };
    }
    case 'sqs': {
      const queueUrl = typeof body.QueueUrl === 'string' ? body.QueueUrl : undefined;
      const queueName = queueUrl ? queueUrl.slice(queueUrl.lastIndexOf('/') + 1) : body.QueueName;
      return {
        action: `sqs:${SQS_ACTIONS[operation] ?? operation}`,
        resources: [typeof queueName === 'string' ? arn('sqs', queueName) : '*'],
      };
    }
    case 'states': {
      const target = body.stateMachineArn ?? body.executionArn;
      return { action: `states:${operation}`, resources: [typeof target === 'string' ? target : '*'] };
    }
  }
}

/** The error AWS answers a call its caller's policies do not allow, in that service's JSON protocol. */
export function accessDeniedMessage(principal: LocalPrincipal, call: AwsRequest, resource: string): string {
  return `User: ${principal.arn} is not authorized to perform: ${call.action} on resource: ${resource} because no identity-based policy allows the ${call.action} action`;
}

export interface IamProxy {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Listens on `port` and forwards every request to `target` (the stand-in), refusing those of a
 * known principal that its statements do not allow.
 */
export async function startIamProxy(options: {
  readonly service: Service;
  readonly port: number;
  readonly target: string;
  readonly principals: ReadonlyMap<string, LocalPrincipal>;
  readonly log?: (line: string) => void;
}): Promise<IamProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const server = createServer((incoming, outgoing) => {
    void forward(incoming, outgoing).catch((error: unknown) => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end(String(error));
    });
  });

  async function forward(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const denied = check(incoming, body);
    if (denied) {
      options.log?.(denied.message);
      outgoing.writeHead(400, denied.headers);
      outgoing.end(JSON.stringify({ __type: denied.type, message: denied.message, Message: denied.message }));
      return;
    }
    const upstream = request({
      host: target.hostname,
      port: target.port,
      method: incoming.method,
      path: incoming.url,
      headers: incoming.headers,
      agent,
    });
    upstream.on('response', (response) => {
      outgoing.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(outgoing);
    });
    upstream.on('error', (error) => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end(String(error));
    });
    upstream.end(body);
  }

  function check(incoming: IncomingMessage, body: Buffer) {
    const key = /Credential=([^/,\s]+)\//.exec(String(incoming.headers.authorization ?? ''))?.[1];
    const principal = key === undefined ? undefined : options.principals.get(key);
    if (!principal) return undefined;
    const { operation, parameters } = parse(incoming, body);
    const call = awsRequestOf(options.service, operation, parameters);
    const refused = call.resources.find(
      (resource) => !isAllowed(principal.statements, call.action, resource),
    );
    if (refused === undefined) return undefined;
    const contentType =
      options.service === 'sqs' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.0';
    return {
      type:
        options.service === 'sqs'
          ? 'com.amazon.coral.access#AccessDeniedException'
          : 'com.amazon.coral.service#AccessDeniedException',
      message: accessDeniedMessage(principal, call, refused),
      headers: {
        'content-type': contentType,
        ...(options.service === 'sqs' ? { 'x-amzn-query-error': 'AccessDenied;Sender' } : {}),
      },
    };
  }

  await listen(server, options.port, '127.0.0.1');
  return {
    endpoint: `http://127.0.0.1:${options.port}`,
    close: async () => {
      await closeServer(server);
      agent.destroy();
    },
  };
}

/** The operation and its parameters, from the JSON protocol or the query protocol. */
function parse(
  incoming: IncomingMessage,
  body: Buffer,
): { operation: string; parameters: Record<string, unknown> } {
  const target = incoming.headers['x-amz-target'];
  if (typeof target === 'string') {
    let parameters: Record<string, unknown> = {};
    try {
      parameters = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      // The stand-in answers a malformed body itself.
    }
    return { operation: target.slice(target.lastIndexOf('.') + 1), parameters };
  }
  const form = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  return { operation: form.Action ?? 'Unknown', parameters: form };
}
