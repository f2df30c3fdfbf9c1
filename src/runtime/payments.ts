import { createHttpPaymentGateway, type HttpPaymentGateway } from '../payments/http-gateway.js';
import { integerEnv, requiredEnv } from './config.js';

let gateway: HttpPaymentGateway | undefined;

/**
 * The process's one payment gateway. One instance per container matters: the circuit breaker
 * lives in it, so every call of this container counts towards opening it.
 */
export function paymentGateway(environment: NodeJS.ProcessEnv = process.env): HttpPaymentGateway {
  gateway ??= createHttpPaymentGateway({
    baseUrl: requiredEnv('PAYMENT_PROVIDER_URL', environment),
    timeoutMs: integerEnv('PAYMENT_TIMEOUT_MS', 15_000, environment),
    breaker: {
      failureThreshold: integerEnv('PAYMENT_BREAKER_FAILURE_THRESHOLD', 5, environment),
      halfOpenAfterMs: integerEnv('PAYMENT_BREAKER_HALF_OPEN_AFTER_MS', 60_000, environment),
    },
  });
  return gateway;
}
