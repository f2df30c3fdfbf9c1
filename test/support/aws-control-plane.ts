import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { closeServer, listen } from '../../local/aws/http-server.js';
import { NodeSha256 } from '../../tools/ops/admin-client.js';

/*
 * Stand-ins for the parts of AWS that have no local twin, spoken to over their wire protocols:
 * CloudFormation DescribeStacks (the query protocol, XML answers) and API Gateway's IAM
 * authorisation (a SigV4 check in front of the local API). Tests point the real SDK clients at them.
 */

export interface StandIn {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves DescribeStacks for the given stacks (name -> outputs); any other stack does not exist. */
export async function startCloudFormationStandIn(
  stacks: Readonly<Record<string, Readonly<Record<string, string>>>>,
): Promise<StandIn> {
  const server = createServer(async (request, response) => {
    const form = new URLSearchParams((await readBody(request)).toString('utf8'));
    const stackName = form.get('StackName') ?? '';
    const outputs = stacks[stackName];
    response.setHeader('content-type', 'text/xml');
    if (form.get('Action') !== 'DescribeStacks') {
      response.writeHead(400).end(queryError('InvalidAction', `${form.get('Action')} is not served here`));
      return;
    }
    if (!outputs) {
      response.writeHead(400).end(queryError('ValidationError', `Stack with id ${stackName} does not exist`));
      return;
    }
    const members = Object.entries(outputs)
      .map(
        ([key, value]) =>
          `<member><OutputKey>${key}</OutputKey><OutputValue>${xml(value)}</OutputValue></member>`,
      )
      .join('');
    response
      .writeHead(200)
      .end(
        `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>` +
          `<StackName>${xml(stackName)}</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/${xml(stackName)}/1</StackId>` +
          `<CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>UPDATE_COMPLETE</StackStatus><Outputs>${members}</Outputs>` +
          `</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></DescribeStacksResponse>`,
      );
  });
  return serve(server);
}

/**
 * API Gateway with IAM authorisation in front of the local API: a request whose SigV4 signature
 * (service execute-api) does not verify with `credentials` gets 403, as in AWS; a verified one is
 * forwarded as the local admin, with the stage's path prefix removed.
 */
export async function startIamGateway(options: {
  readonly apiUrl: string;
  readonly stageName: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}): Promise<StandIn & { readonly signedRequests: () => number }> {
  let signed = 0;
  const prefix = `/${options.stageName}`;
  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    if (!(await verifies(request, body, options.credentials))) {
      response.writeHead(403, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          message: 'The request signature we calculated does not match the signature you provided.',
        }),
      );
      return;
    }
    signed++;
    const url = new URL(request.url ?? '/', 'http://gateway');
    const forwarded = await fetch(`${options.apiUrl}${url.pathname.slice(prefix.length)}${url.search}`, {
      method: request.method ?? 'GET',
      headers: {
        authorization: 'Bearer admin',
        ...(request.headers['content-type'] ? { 'content-type': request.headers['content-type'] } : {}),
      },
      ...(body.length > 0 ? { body } : {}),
    });
    response
      .writeHead(forwarded.status, {
        'content-type': forwarded.headers.get('content-type') ?? 'application/json',
      })
      .end(await forwarded.text());
  });
  const standIn = await serve(server);
  return { ...standIn, url: `${standIn.url}${prefix}/`, signedRequests: () => signed };
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/execute-api\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/;

/** Signs the request again with the expected credentials and compares, as AWS does. */
async function verifies(
  request: IncomingMessage,
  body: Buffer,
  credentials: { readonly accessKeyId: string; readonly secretAccessKey: string },
): Promise<boolean> {
  const match = AUTHORIZATION.exec(request.headers.authorization ?? '');
  const amzDate = request.headers['x-amz-date'];
  if (!match || match[1] !== credentials.accessKeyId || typeof amzDate !== 'string') return false;
  const [, , region = '', signedHeaders = ''] = match;
  // The payload hash the signature covers must be the hash of the body that arrived.
  const payloadHash = request.headers['x-amz-content-sha256'];
  if (payloadHash !== undefined && payloadHash !== createHash('sha256').update(body).digest('hex'))
    return false;
  const url = new URL(request.url ?? '/', `http://${request.headers.host}`);
  const headers = Object.fromEntries(
    signedHeaders.split(';').map((name) => [name, String(request.headers[name] ?? '')]),
  );
  const signer = new SignatureV4({ service: 'execute-api', region, credentials, sha256: NodeSha256 });
  const expected = await signer.sign(
    {
      method: request.method ?? 'GET',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      // The payload's hash is part of the signature: a body changed on the way does not verify.
      ...(body.length > 0 ? { body: body.toString('utf8') } : {}),
    },
    { signingDate: parseAmzDate(amzDate) },
  );
  return expected.headers.authorization === request.headers.authorization;
}

function parseAmzDate(value: string): Date {
  const [, y, mo, d, h, mi, s] = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) ?? [];
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
}

async function serve(server: Server): Promise<StandIn> {
  await listen(server, 0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function queryError(code: string, message: string): string {
  return `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xml(message)}</Message></Error><RequestId>stand-in</RequestId></ErrorResponse>`;
}

function xml(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
