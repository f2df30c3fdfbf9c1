import type { CheckoutMetrics } from '../../../src/api/metrics.js';
import type { ProblemCode } from '../../../src/api/problems.js';
import type { SagaInput, SagaStartBuffer, SagaStarter } from '../../../src/saga/saga-starter.js';
import { SagaStartError } from '../../../src/saga/saga-starter.js';

/**
 * A recording fake of the saga-start port: it remembers every start and, like the Step Functions
 * adapter, reports a second start of the same order as already started. The real saga is tested
 * elsewhere; here only "was it started, once, with what" matters.
 */
export class RecordingSagaStarter implements SagaStarter {
  readonly starts: SagaInput[] = [];
  private readonly started = new Set<string>();
  /** Resolved before a start returns; tests hold it to keep a request in flight. */
  gate: Promise<void> = Promise.resolve();

  /** Holds every start from now on, until the returned function releases them. */
  hold(): () => void {
    let release: () => void = () => {};
    this.gate = new Promise((resolve) => {
      release = resolve;
    });
    return release;
  }

  async start(input: SagaInput): Promise<{ alreadyStarted: boolean }> {
    this.starts.push(input);
    await this.gate;
    const alreadyStarted = this.started.has(input.orderId);
    this.started.add(input.orderId);
    return { alreadyStarted };
  }

  startsOf(orderId: string): SagaInput[] {
    return this.starts.filter((start) => start.orderId === orderId);
  }
}

/** A saga-start port whose every start fails, as Step Functions would when unreachable or throttling. */
export class FailingSagaStarter implements SagaStarter {
  attempts = 0;
  async start(input: SagaInput): Promise<{ alreadyStarted: boolean }> {
    this.attempts += 1;
    throw new SagaStartError(`could not start the payment saga of order ${input.orderId}`, {
      cause: Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }),
    });
  }
}

/** A recording fake of the saga-start queue; `failing` makes every enqueue fail, as SQS out of reach would. */
export class RecordingSagaStartBuffer implements SagaStartBuffer {
  readonly queued: SagaInput[] = [];
  attempts = 0;
  constructor(private readonly failing = false) {}

  async enqueue(input: SagaInput): Promise<void> {
    this.attempts += 1;
    if (this.failing) throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });
    this.queued.push(input);
  }
}

/** Counts checkout outcomes as the handler reports them. */
export class RecordingCheckoutMetrics implements CheckoutMetrics {
  readonly events: string[] = [];
  accepted(): void {
    this.events.push('accepted');
  }
  rejected(code: ProblemCode): void {
    this.events.push(`rejected:${code}`);
  }
  replayed(): void {
    this.events.push('replayed');
  }
}
