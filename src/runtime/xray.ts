import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

/**
 * What X-Ray needs on the wire, and nothing else (docs/adr/0014-tracing-without-the-xray-sdk.md):
 * the invocation's trace header, independent subsegment documents in the segment document
 * schema, and the X-Ray daemon's UDP protocol, a header line then one JSON document per datagram.
 * The Lambda runtime runs the daemon and sets `AWS_XRAY_DAEMON_ADDRESS`.
 */

/** The trace this invocation belongs to, from its `X-Amzn-Trace-Id` header. */
export interface InvocationTrace {
  /** `Root=`: the trace id, `1-<8 hex>-<24 hex>`. */
  readonly root: string;
  /** `Parent=`: the function's segment, the parent of every subsegment sent. */
  readonly parent: string;
  /** `Sampled=1`: only then is anything sent. */
  readonly sampled: boolean;
  /** Other fields (`Lineage=…`, Lambda's recursion detection) passed on downstream, with their `;`. */
  readonly extra: string;
}

/** The cause of a fault or error, as the segment document schema records exceptions. */
export interface Cause {
  readonly working_directory: string;
  readonly exceptions: {
    readonly id: string;
    readonly message: string;
    readonly type: string;
    readonly remote: boolean;
    readonly stack: { readonly path: string; readonly line?: number; readonly label: string }[];
  }[];
}

/** An independent subsegment: sent on its own, naming its trace and parent. */
export interface Subsegment {
  readonly type: 'subsegment';
  readonly id: string;
  readonly trace_id: string;
  readonly parent_id: string;
  readonly name: string;
  /** Epoch seconds, with the fraction. */
  readonly start_time: number;
  end_time?: number;
  /** `aws` for AWS SDK calls, `remote` for other downstream calls; absent for local work. */
  namespace?: 'aws' | 'remote';
  annotations?: Record<string, string>;
  aws?: Record<string, string | number>;
  http?: {
    request?: { method: string; url: string };
    response?: { status?: number; content_length?: number };
  };
  /** A server error (5xx) or an exception. */
  fault?: boolean;
  /** A client error (4xx). */
  error?: boolean;
  /** Throttled (429). */
  throttle?: boolean;
  cause?: Cause;
}

const HEADER = '{"format":"json","version":1}\n';

/** Lambda's per-invocation store, when the runtime provides one (`@aws/lambda-invoke-store`). */
const lambdaGlobal = globalThis as { awslambda?: { InvokeStore?: { getXRayTraceId(): string | undefined } } };

let lastHeader: string | undefined;
let lastTrace: InvocationTrace | undefined;

/**
 * The current invocation's trace, or none outside an invocation. Read on every call: Lambda's
 * Node runtime sets `_X_AMZN_TRACE_ID` per invocation (and keeps it in its invoke store when one
 * environment runs several at once). The last header's parse is kept, so a call costs a comparison.
 */
export function invocationTrace(): InvocationTrace | undefined {
  const header = lambdaGlobal.awslambda?.InvokeStore?.getXRayTraceId() ?? process.env._X_AMZN_TRACE_ID;
  if (header !== lastHeader) {
    lastHeader = header;
    lastTrace = header === undefined ? undefined : parseTraceHeader(header);
  }
  return lastTrace;
}

/** `Root=…;Parent=…;Sampled=…[;key=value…]`, in any order; undefined without a root and a parent. */
export function parseTraceHeader(header: string): InvocationTrace | undefined {
  let root: string | undefined;
  let parent: string | undefined;
  let sampled = false;
  let extra = '';
  for (const field of header.split(';')) {
    const separator = field.indexOf('=');
    if (separator <= 0) continue;
    const key = field.slice(0, separator).trim();
    const value = field.slice(separator + 1).trim();
    if (key === 'Root') root = value;
    else if (key === 'Parent') parent = value;
    else if (key === 'Sampled') sampled = value === '1';
    else extra += `;${key}=${value}`;
  }
  return root && parent ? { root, parent, sampled, extra } : undefined;
}

/** The header a downstream call carries: the same trace, `parent` (the call's subsegment) as its parent. */
export function downstreamTraceHeader(trace: InvocationTrace, parent: string): string {
  return `Root=${trace.root};Parent=${parent};Sampled=1${trace.extra}`;
}

/** A subsegment starting now, under the function's segment. */
export function startSubsegment(trace: InvocationTrace, name: string): Subsegment {
  return {
    type: 'subsegment',
    id: randomBytes(8).toString('hex'),
    trace_id: trace.root,
    parent_id: trace.parent,
    name,
    start_time: Date.now() / 1000,
  };
}

/** Records `error` as the subsegment's cause; `remote` when a downstream service raised it. */
export function recordCause(subsegment: Subsegment, error: unknown, remote: boolean): void {
  const { name, message, stack } =
    error instanceof Error ? error : { name: 'Error', message: String(error), stack: undefined };
  subsegment.cause = {
    working_directory: process.cwd(),
    exceptions: [
      { id: randomBytes(8).toString('hex'), message, type: name, remote, stack: stackFrames(stack) },
    ],
  };
}

/** `    at label (path:line:column)` or `    at path:line:column` lines, as the schema's stack. */
function stackFrames(stack: string | undefined): Cause['exceptions'][number]['stack'] {
  const frames: Cause['exceptions'][number]['stack'] = [];
  for (const line of stack?.split('\n').slice(1) ?? []) {
    const match = /^\s*at (?:(.+?) \()?(.+?)(?::(\d+))?(?::\d+)?\)?$/.exec(line);
    if (!match?.[2]) continue;
    const frame = { path: match[2], label: match[1] ?? 'anonymous' };
    frames.push(match[3] ? { ...frame, line: Number(match[3]) } : frame);
  }
  return frames;
}

/** `host:port`, or `udp:host:port tcp:host:port` (the daemon's two listeners); 127.0.0.1:2000 unset. */
export function daemonUdpAddress(setting: string | undefined): { host: string; port: number } {
  const udp = setting?.split(' ').find((part) => !part.startsWith('tcp:')) ?? '127.0.0.1:2000';
  const [host, port] = udp.replace(/^udp:/, '').split(':');
  if (!host || !Number.isInteger(Number(port))) {
    throw new Error(
      `AWS_XRAY_DAEMON_ADDRESS must be host:port or "udp:host:port tcp:host:port", got "${setting}"`,
    );
  }
  return { host, port: Number(port) };
}

/**
 * Sends finished subsegments to the daemon, one datagram each, over one socket per container
 * (unreferenced, so it never keeps a process alive). UDP is fire and forget, as in the X-Ray SDK:
 * a send that fails loses that subsegment and nothing else; the socket is replaced after an error.
 */
export function daemonEmitter(address: { host: string; port: number }): (subsegment: Subsegment) => void {
  let socket: Socket | undefined;
  return (subsegment) => {
    if (!socket) {
      const opened = createSocket('udp4').unref();
      opened.on('error', () => {
        opened.close();
        if (socket === opened) socket = undefined;
      });
      socket = opened;
    }
    socket.send(HEADER + JSON.stringify(subsegment), address.port, address.host);
  };
}
