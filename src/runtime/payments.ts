import { createHttpPaymentGateway, type HttpPaymentGateway } from '../payments/http-gateway.js';
import { integerEnv, requiredEnv } from './config.js';
import { secretString } from './secrets.js';
import { tracedMethods } from './tracing.js';

let gateway: HttpPaymentGateway | undefined;

/**
 * The process's one payment gateway. One instance per container matters: the circuit breaker
 * lives in it, so every call of this container counts towards opening it.
 */
export function paymentGateway(environment: NodeJS.ProcessEnv = process.env): HttpPaymentGateway {
  gateway ??= tracedMethods(
    createHttpPaymentGateway({
      baseUrl: requiredEnv('PAYMENT_PROVIDER_URL', environment),
      ...providerCredential(environment),
      timeoutMs: integerEnv('PAYMENT_TIMEOUT_MS', 15_000, environment),
      breaker: {
        failureThreshold: integerEnv('PAYMENT_BREAKER_FAILURE_THRESHOLD', 5, environment),
        halfOpenAfterMs: integerEnv('PAYMENT_BREAKER_HALF_OPEN_AFTER_MS', 60_000, environment),
      },
    }),
    'PaymentGateway',
  );
  return gateway;
}

/**
 * The provider credential: the Secrets Manager secret `PAYMENT_PROVIDER_SECRET_ARN` in AWS (read
 * once per container), `PAYMENT_PROVIDER_API_KEY` locally, or none.
 */
function providerCredential(environment: NodeJS.ProcessEnv): { credential?: () => Promise<string> } {
  const secretArn = environment.PAYMENT_PROVIDER_SECRET_ARN;
  if (secretArn) return { credential: () => secretString(secretArn) };
  const key = environment.PAYMENT_PROVIDER_API_KEY;
  return key ? { credential: async () => key } : {};
}
