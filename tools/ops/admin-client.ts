import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { OpsError } from './errors.js';

/** A response of the admin API: the status and the parsed JSON body. */
export interface AdminResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** Calls the admin routes of the checkout API (docs/openapi.yaml, tag `admin`). */
export interface AdminClient {
  /**
   * `path` starts with `/v1/admin/`; `body` is sent as JSON. Answers 2xx; anything else becomes an
   * {@link OpsError}.
   */
  request(method: 'GET' | 'POST' | 'PUT', path: string, body?: object): Promise<AdminResponse>;
}

/** Above API Gateway's own 29 s integration timeout: a request that outlives it will never be answered. */
const REQUEST_TIMEOUT_MS = 30_000;

type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

/** How requests prove they come from an operator. */
export type AdminAuthentication =
  /** The local stack's stand-in for IAM: `Authorization: Bearer admin`. */
  | { readonly kind: 'local' }
  /** IAM: SigV4 for `execute-api`, as API Gateway's IAM authorisation wants it. */
  | {
      readonly kind: 'sigv4';
      readonly region: string;
      readonly credentials: Credentials;
    };

/**
 * The admin API at `baseUrl` (the stack's `ApiUrl` output, stage path included). Problems
 * (`application/problem+json`) become one-line errors with their stable `code`.
 */
export function createAdminClient(baseUrl: string, authentication: AdminAuthentication): AdminClient {
  const base = baseUrl.replace(/\/+$/, '');
  const signer =
    authentication.kind === 'sigv4'
      ? new SignatureV4({
          service: 'execute-api',
          region: authentication.region,
          credentials: authentication.credentials,
          sha256: NodeSha256,
        })
      : undefined;

  return {
    async request(method, path, json) {
      const url = new URL(`${base}${path}`);
      let headers: Record<string, string> = { accept: 'application/json' };
      const payload = json === undefined ? undefined : JSON.stringify(json);
      if (payload !== undefined) headers['content-type'] = 'application/json';
      if (signer) {
        const signed = await signer.sign({
          method,
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: { ...headers, host: url.host },
          ...(payload !== undefined ? { body: payload } : {}),
        });
        // fetch sets Host from the URL itself: the same value that was signed.
        const { host: _host, ...rest } = signed.headers;
        headers = rest;
      } else {
        headers.authorization = 'Bearer admin';
      }

      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers,
          ...(payload !== undefined ? { body: payload } : {}),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (error) {
        throw new OpsError(`cannot reach the API at ${base}: ${causeOf(error)}`, 1, { cause: error });
      }
      const text = await response.text();
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        throw new OpsError(`${method} ${path} answered ${response.status} with a body that is not JSON`);
      }
      if (response.ok) return { status: response.status, body };
      const code = typeof body.code === 'string' ? body.code : `HTTP ${response.status}`;
      const detail = typeof body.detail === 'string' ? body.detail : (body.message ?? text);
      throw new OpsError(`${code}: ${String(detail)}`);
    },
  };
}

function causeOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape the signer takes. */
export class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function toBuffer(data: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : Buffer.from(data);
}
