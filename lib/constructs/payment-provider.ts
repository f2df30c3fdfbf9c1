import { Duration } from 'aws-cdk-lib';
import { FunctionUrlAuthType, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CheckoutFunction, type PowertoolsSettings } from './checkout-function.js';

/**
 * Where the payment functions call the provider, and how long they wait. A binding, not a
 * resource: the provider is either the simulated one below or an external service.
 */
export class PaymentProviderEndpoint {
  /**
   * @param url base URL of the provider's HTTP API (a token is fine)
   * @param timeout hard client-side timeout of every call (docs/architecture.md, "The parts")
   */
  constructor(
    readonly url: string,
    readonly timeout: Duration,
  ) {
    if (timeout.toMilliseconds() < 1_000) {
      throw new Error(`the payment timeout must be at least 1 s, got ${timeout.toHumanString()}`);
    }
  }

  /** Sets `PAYMENT_PROVIDER_URL` and `PAYMENT_TIMEOUT_MS` (read by `src/runtime/payments.ts`). */
  bind(fn: LambdaFunction): void {
    fn.addEnvironment('PAYMENT_PROVIDER_URL', this.url);
    fn.addEnvironment('PAYMENT_TIMEOUT_MS', String(this.timeout.toMilliseconds()));
  }
}

export interface SimulatedPaymentProviderProps {
  /** The timeout the callers use: the provider must be able to hold a request longer than that. */
  readonly clientTimeout: Duration;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
}

/**
 * The simulated payment provider (docs/architecture.md, "The parts") behind a Lambda function URL, for non-production
 * stages only. Its state (authorizations, ledger, injected faults) lives in the memory of one
 * execution environment, hence reserved concurrency 1: a second concurrent environment would
 * answer from an empty store. The price is that a held `pm_auth_timeout` request occupies the
 * provider until it gives up, and concurrent calls meanwhile are throttled (the callers retry).
 */
export class SimulatedPaymentProvider extends Construct {
  readonly handler: CheckoutFunction;
  readonly url: string;

  constructor(scope: Construct, id: string, props: SimulatedPaymentProviderProps) {
    super(scope, id);
    this.handler = new CheckoutFunction(this, 'Handler', {
      entry: 'lambdas/ops/payment-provider.ts',
      description: 'Simulated payment provider (test double, non-production stages only)',
      // Outlive the callers' timeout so that it is the caller who gives up on a held request.
      timeout: Duration.seconds(props.clientTimeout.toSeconds() + 2),
      memorySize: 256,
      reservedConcurrentExecutions: 1,
      logRetention: props.logRetention,
      powertools: { ...props.powertools, serviceName: 'simulated-payment-provider' },
    });
    // The HTTP gateway calls it with plain fetch, like a card network's public test endpoint.
    this.url = this.handler.function.addFunctionUrl({ authType: FunctionUrlAuthType.NONE }).url;
  }
}
