import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A PutEvents request entry as it arrives on the wire (awsJson1_1: `Time` in epoch seconds). */
export interface WireEntry {
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly EventBusName?: string;
  readonly Time?: number;
}

export interface FakeEventBridgeOptions {
  /** Rejects one entry the way EventBridge does, with an error code in the result. */
  readonly rejectEntry?: (entry: WireEntry) => { ErrorCode: string; ErrorMessage: string } | undefined;
  /** Fails a whole call with a 500 InternalException. */
  readonly failRequest?: (entries: readonly WireEntry[]) => boolean;
}

export interface FakeEventBridge {
  /** For the SDK client's `endpoint`. */
  readonly endpoint: string;
  /** Every PutEvents call that reached the fake, entries as sent. */
  readonly requests: WireEntry[][];
  /** The entries that were accepted. */
  readonly accepted: WireEntry[];
  stop(): Promise<void>;
}

const JSON_1_1 = 'application/x-amz-json-1.1';

/**
 * Just enough of the EventBridge JSON protocol for PutEvents: `X-Amz-Target: AWSEvents.PutEvents`
 * (the target prefix the real SDK sends), `application/x-amz-json-1.1`, at most 10 entries per
 * call, per-entry results by position and `__type` errors. Signatures are not checked.
 */
export async function startFakeEventBridge(options: FakeEventBridgeOptions = {}): Promise<FakeEventBridge> {
  const requests: WireEntry[][] = [];
  const accepted: WireEntry[] = [];
  let nextEventId = 1;

  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      sendError(response, 500, 'InternalException', String(error));
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.method !== 'POST' || request.headers['x-amz-target'] !== 'AWSEvents.PutEvents') {
      sendError(
        response,
        400,
        'UnknownOperationException',
        `unsupported: ${request.headers['x-amz-target']}`,
      );
      return;
    }
    if (!request.headers['content-type']?.startsWith(JSON_1_1)) {
      sendError(response, 400, 'SerializationException', `content type ${request.headers['content-type']}`);
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Entries?: WireEntry[] };
    const entries = body.Entries ?? [];
    requests.push(entries);
    if (entries.length < 1 || entries.length > 10) {
      sendError(
        response,
        400,
        'ValidationException',
        `Entries must hold 1 to 10 items, got ${entries.length}`,
      );
      return;
    }
    if (options.failRequest?.(entries)) {
      sendError(response, 500, 'InternalException', 'injected failure');
      return;
    }
    const results = entries.map((entry) => {
      const rejection = options.rejectEntry?.(entry);
      if (rejection) return rejection;
      accepted.push(entry);
      return { EventId: `fake-${nextEventId++}` };
    });
    const failed = results.filter((result) => 'ErrorCode' in result).length;
    response.writeHead(200, { 'content-type': JSON_1_1 });
    response.end(JSON.stringify({ FailedEntryCount: failed, Entries: results }));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    accepted,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  response.writeHead(status, { 'content-type': JSON_1_1 });
  response.end(JSON.stringify({ __type: type, message }));
}

/** The envelope inside an entry's `Detail`. */
export function detailOf(entry: WireEntry): { eventId: string; type: string; [key: string]: unknown } {
  return JSON.parse(entry.Detail ?? '{}') as { eventId: string; type: string };
}
