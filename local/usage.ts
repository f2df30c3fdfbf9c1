import type { IncomingMessage, Server } from 'node:http';

/**
 * What the local stack did that AWS would bill, counted as it happens: requests to each stand-in
 * (API Gateway, DynamoDB, SQS), events published, state transitions, and every Lambda invocation
 * with its duration. The bench reads it over `GET /_local/usage` of the local API (see
 * docs/PERFORMANCE.md, "Cost per checkout") and turns differences into dollars. Counting is a map
 * increment per request: nothing is recorded per item.
 */
export interface UsageSnapshot {
  /** Counters by name, e.g. `apiGateway.placeOrder`, `dynamodb.PutItem`, `sqs.SendMessage`. */
  readonly counts: Readonly<Record<string, number>>;
  /**
   * Lambda invocations by function name, with the summed duration each would be billed for
   * (the INIT phase of a cold start included) and how many were cold starts.
   */
  readonly lambda: Readonly<Record<string, LambdaUsage>>;
}

export interface LambdaUsage {
  readonly invocations: number;
  readonly billedMs: number;
  readonly coldStarts: number;
  /** The handlers' own CPU time, summed (what the containers measured around each handler). */
  readonly cpuMs?: number;
}

export class UsageMeter {
  private readonly counts = new Map<string, number>();
  private readonly lambda = new Map<
    string,
    { invocations: number; billedMs: number; coldStarts: number; cpuMs: number }
  >();

  count(name: string, amount = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + amount);
  }

  /** One invocation; Lambda rounds each invocation's duration up to the next millisecond. */
  invocation(functionName: string, durationMs: number, coldStart = false, cpuMs = 0): void {
    const entry = this.lambda.get(functionName) ?? { invocations: 0, billedMs: 0, coldStarts: 0, cpuMs: 0 };
    entry.invocations += 1;
    entry.billedMs += Math.max(1, Math.ceil(durationMs));
    entry.cpuMs += cpuMs;
    if (coldStart) entry.coldStarts += 1;
    this.lambda.set(functionName, entry);
  }

  /** Times one invocation of `run` as an invocation of `functionName`, whether it returns or throws. */
  async invoke<T>(functionName: string, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await run();
    } finally {
      this.invocation(functionName, performance.now() - started);
    }
  }

  snapshot(): UsageSnapshot {
    return {
      counts: Object.fromEntries(this.counts),
      lambda: Object.fromEntries([...this.lambda].map(([name, entry]) => [name, { ...entry }])),
    };
  }
}

/**
 * Counts each request to a stand-in that speaks an AWS JSON protocol (DynamoDB, SQS), as
 * `<service>.<operation>` from its `X-Amz-Target` header (`DynamoDB_20120810.PutItem` → `PutItem`).
 */
export function countAwsRequests(server: Server, service: string, meter: UsageMeter): void {
  server.on('request', (request: IncomingMessage) => {
    const target = request.headers['x-amz-target'];
    const operation = typeof target === 'string' ? target.slice(target.lastIndexOf('.') + 1) : 'unknown';
    meter.count(`${service}.${operation}`);
  });
}
