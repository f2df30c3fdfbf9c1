import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, listen } from './http-server.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './local-account.js';

/**
 * A Secrets Manager stand-in speaking its wire protocol (JSON 1.1, `X-Amz-Target:
 * secretsmanager.<Action>`) for the SDK client: `GetSecretValue` and `PutSecretValue` of string
 * secrets, each put a new version. Enough for the code that reads the payment provider's key
 * (`src/runtime/secrets.ts`) to meet a rotation as it would in AWS. Signatures are not checked.
 */
export interface LocalSecretsManager {
  /** `http://127.0.0.1:<port>`: `AWS_ENDPOINT_URL_SECRETS_MANAGER`. */
  readonly endpoint: string;
  /** Creates the secret, or puts a new current version of it; returns its ARN. */
  putSecretValue(name: string, value: string): string;
  /** GetSecretValue calls answered, by secret name. */
  reads(name: string): number;
  close(): Promise<void>;
}

interface Secret {
  readonly arn: string;
  value: string;
  versionId: string;
  reads: number;
}

export async function startLocalSecretsManager(port = 0): Promise<LocalSecretsManager> {
  const secrets = new Map<string, Secret>();
  const find = (id: string) => secrets.get(id) ?? [...secrets.values()].find((secret) => secret.arn === id);
  const arnOf = (name: string) =>
    `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:secret:${name}-${randomUUID().slice(0, 6)}`;
  const put = (name: string, value: string): string => {
    const existing = find(name);
    if (existing) {
      existing.value = value;
      existing.versionId = randomUUID();
      return existing.arn;
    }
    const arn = arnOf(name);
    secrets.set(name, { arn, value, versionId: randomUUID(), reads: 0 });
    return arn;
  };

  const server = createServer((req, res) => {
    readBody(req)
      .then((body) => answer(req, res, body))
      .catch(() => reply(res, 500, { __type: 'InternalServiceError', message: 'stand-in failure' }));
  });
  const answer = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const action = String(req.headers['x-amz-target'] ?? '').replace(/^secretsmanager\./, '');
    const input = JSON.parse(body || '{}') as { SecretId?: string; SecretString?: string };
    const secret = input.SecretId ? find(input.SecretId) : undefined;
    if (action === 'PutSecretValue' && input.SecretId && typeof input.SecretString === 'string') {
      const arn = put(input.SecretId, input.SecretString);
      const current = find(arn) as Secret;
      return reply(res, 200, { ARN: arn, Name: input.SecretId, VersionId: current.versionId });
    }
    if (action !== 'GetSecretValue') {
      return reply(res, 400, {
        __type: 'InvalidRequestException',
        message: `${action} is not supported locally`,
      });
    }
    if (!secret) {
      return reply(res, 400, {
        __type: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
      });
    }
    secret.reads += 1;
    const name = [...secrets].find(([, candidate]) => candidate === secret)?.[0];
    return reply(res, 200, {
      ARN: secret.arn,
      Name: name,
      SecretString: secret.value,
      VersionId: secret.versionId,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Date.now() / 1000,
    });
  };

  await listen(server, port, '127.0.0.1');
  const { port: bound } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    putSecretValue: put,
    reads: (name) => find(name)?.reads ?? 0,
    close: () => closeServer(server),
  };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
