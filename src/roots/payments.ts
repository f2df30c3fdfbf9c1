import type { GroupValues } from '../config/declarations.js';
import type { paymentProvider, providerSecret } from '../config/variables.js';
import { createHttpPaymentGateway, type HttpPaymentGateway } from '../payments/http-gateway.js';
import { perContainer } from '../runtime/per-container.js';
import { secretString } from '../runtime/secrets.js';
import { tracedMethods } from '../runtime/tracing.js';

/**
 * A payment gateway from its configuration. The credential: the Secrets Manager secret in AWS
 * (read once per container), the plain key locally, or none.
 */
export function createPaymentGateway(config: {
  readonly paymentProvider: GroupValues<typeof paymentProvider>;
  readonly providerSecret?: GroupValues<typeof providerSecret>;
}): HttpPaymentGateway {
  const secretArn = config.providerSecret?.secretArn;
  const { apiKey } = config.paymentProvider;
  const credential = secretArn ? () => secretString(secretArn) : apiKey ? async () => apiKey : undefined;
  return tracedMethods(
    createHttpPaymentGateway({
      baseUrl: config.paymentProvider.url,
      ...(credential ? { credential } : {}),
      timeoutMs: config.paymentProvider.timeoutMs,
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
