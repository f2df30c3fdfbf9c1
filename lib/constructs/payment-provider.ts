import { type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { FunctionUrlAuthType, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type FunctionBudget, providerDeadlineReserveMs } from '../../src/config/budget.js';
import * as config from '../../src/config/variables.js';
import { acknowledgeControl } from '../policy-validation.js';
import { CheckoutFunction, type PowertoolsSettings } from './checkout-function.js';
import { setEnvironment } from './function-environment.js';

/**
 * Where the payment functions call the provider, and how long they wait. A binding, not a
 * resource: the provider is either the simulated one below or an external service.
 */
export class PaymentProviderEndpoint {
  /**
   * @param url base URL of the provider's HTTP API (a token is fine)
   * @param timeoutSeconds hard client-side timeout of every call (the budget's, docs/adr/0020)
   * @param credential the secret holding the provider's API key, sent on every call
   */
  constructor(
    readonly url: string,
    readonly timeoutSeconds: number,
    readonly credential: ISecret,
  ) {
    if (!(timeoutSeconds >= 1)) {
      throw new Error(`the payment timeout must be at least 1 s, got ${timeoutSeconds} s`);
    }
  }

  /**
   * Sets `PAYMENT_PROVIDER_URL`, `PAYMENT_TIMEOUT_MS`, `PAYMENT_PROVIDER_SECRET_ARN` and what a call
   * leaves of the invocation for the records after it, from the function's budget line
   * (`PAYMENT_DEADLINE_RESERVE_MS`, read by `src/roots/payments.ts`), and lets it read the credential.
   */
  bind(fn: { readonly function: LambdaFunction; readonly budget: FunctionBudget }): void {
    setEnvironment(fn.function, config.paymentProvider, {
      url: this.url,
      timeoutMs: this.timeoutSeconds * 1000,
      deadlineReserveMs: providerDeadlineReserveMs(fn.budget.work),
    });
    setEnvironment(fn.function, config.providerSecret, { secretArn: this.credential.secretArn });
    this.credential.grantRead(fn.function);
  }

  /**
   * The endpoint without the credential, for a function that builds the gateway only to report its
   * breaker (readiness) and never calls the provider.
   */
  bindWithoutCredential(fn: LambdaFunction): void {
    setEnvironment(fn, config.paymentProvider, { url: this.url, timeoutMs: this.timeoutSeconds * 1000 });
  }
}

export interface PaymentProviderCredentialProps {
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The payment provider's API key in Secrets Manager. Generated, which is what the simulated
 * provider uses; for an external provider an operator puts the provider's key into it
 * (docs/deploy.md). Rotated at the provider, so there is no rotation schedule here.
 */
export class PaymentProviderCredential extends Construct {
  readonly secret: Secret;

  constructor(scope: Construct, id: string, props: PaymentProviderCredentialProps) {
    super(scope, id);
    this.secret = new Secret(this, 'Secret', {
      description: 'Checkout: the payment provider API key (Authorization: Bearer)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "A payment provider's API key is issued and rotated at the provider (put-secret-value, docs/deploy.md); " +
        'Secrets Manager cannot rotate it by itself.',
    });
  }
}

export interface SimulatedPaymentProviderProps {
  /** Its budget line: it outlives the callers' timeout, so it is the caller who gives up on a held request. */
  readonly budget: FunctionBudget;
  /** The credential every route of its function URL requires. */
  readonly credential: ISecret;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
}

/**
 * The simulated payment provider (docs/architecture.md, "The parts") behind a Lambda function URL, for non-production
 * stages only. Its state (authorizations, ledger, injected faults) lives in the memory of its
 * execution environment. It reserves no concurrency: non-production stages reserve none, so that
 * they deploy into a fresh account (docs/adr/0020). Requests one after another reuse the warm
 * environment; concurrent ones (a held `pm_auth_timeout` request and another call) may start a
 * second environment, which answers from an empty store: a test double's limit, not a payment's.
 */
export class SimulatedPaymentProvider extends Construct {
  readonly handler: CheckoutFunction;
  readonly url: string;

  constructor(scope: Construct, id: string, props: SimulatedPaymentProviderProps) {
    super(scope, id);
    this.handler = new CheckoutFunction(this, 'Handler', {
      entry: 'local/payment-provider/function.ts',
      description: 'Simulated payment provider (test double, non-production stages only)',
      budget: props.budget,
      memorySize: 256,
      logRetention: props.logRetention,
      powertools: { ...props.powertools, serviceName: 'simulated-payment-provider' },
    });
    setEnvironment(this.handler.function, config.providerSecret, { secretArn: props.credential.secretArn });
    props.credential.grantRead(this.handler.function);
    // A public URL, like a card network's test endpoint: the credential guards every route of it.
    this.url = this.handler.function.addFunctionUrl({ authType: FunctionUrlAuthType.NONE }).url;

    const testDouble =
      'The simulated provider is a test double of non-production stages, public like a card network test ' +
      'endpoint: every route checks the provider API key (Authorization: Bearer), as the real provider does, ' +
      'and no real money or card data reaches it.';
    acknowledgeControl(this, 'CT.LAMBDA.PR.2', testDouble);
    acknowledgeControl(this, 'CT.LAMBDA.PR.5', testDouble);
    acknowledgeControl(
      this,
      'CT.LAMBDA.PR.3',
      `${testDouble} It stands for a service on the internet, so it runs outside the VPC like one.`,
    );
  }
}
