import type { GroupValues } from '../config/declarations.js';
import type { paymentProvider, providerSecret } from '../config/variables.js';
import { createHttpPaymentGateway, type HttpPaymentGateway } from '../payments/http-gateway.js';
import { perContainer } from '../runtime/per-container.js';
import { freshSecretString, secretString } from '../runtime/secrets.js';
import { tracedMethods } from '../runtime/tracing.js';

/**
 * A payment gateway from its configuration. The credential: the Secrets Manager secret in AWS
 * (cached for a few minutes, read afresh when the provider refuses it), the plain key outside AWS,
 * or none. Each call leaves the invocation the time its records need (`deadlineReserveMs`).
 */
export function createPaymentGateway(config: {
  readonly paymentProvider: GroupValues<typeof paymentProvider>;
  readonly providerSecret?: GroupValues<typeof providerSecret>;
}): HttpPaymentGateway {
  const secretArn = config.providerSecret?.secretArn;
  const { apiKey } = config.paymentProvider;
  const credential = secretArn
    ? { credential: () => secretString(secretArn), refreshCredential: () => freshSecretString(secretArn) }
    : apiKey
      ? { credential: async () => apiKey }
      : {};
  return tracedMethods(
    createHttpPaymentGateway({
      baseUrl: config.paymentProvider.url,
      ...credential,
      timeoutMs: config.paymentProvider.timeoutMs,
      deadlineReserveMs: config.paymentProvider.deadlineReserveMs,
      breaker: {
        failureThreshold: config.paymentProvider.breakerFailureThreshold,
        halfOpenAfterMs: config.paymentProvider.breakerHalfOpenAfterMs,
      },
    }),
    'PaymentGateway',
  );
}

/**
 * The container's one payment gateway. One per container matters: the circuit breaker lives in
 * it, so every call of this container counts towards opening it.
 */
export const containerPaymentGateway = /* @__PURE__ */ perContainer(createPaymentGateway);
