/**
 * The payment provider's side effects, as the emulator sees them on the wire: a `POST` whose
 * `Idempotency-Key` is `{orderId}:{operation}` (the key every caller of the provider sends,
 * docs/adr/0007) and that the provider answered with a 2xx.
 */
export const PAYMENT_EFFECTS = ['authorize', 'capture', 'void', 'refund'] as const;
export type PaymentEffect = (typeof PAYMENT_EFFECTS)[number];

const KEY = /^(.+):(authorize|capture|void|refund)$/;

/** The side effect a provider request names by its idempotency key; undefined for any other request. */
export function sideEffectOfRequest(
  method: string,
  idempotencyKey: string | undefined,
): { readonly effect: PaymentEffect; readonly orderId: string } | undefined {
  if (method.toUpperCase() !== 'POST' || !idempotencyKey) return undefined;
  const match = KEY.exec(idempotencyKey);
  if (!match) return undefined;
  return { orderId: match[1] as string, effect: match[2] as PaymentEffect };
}

/** Whether the provider's answer means the side effect happened (a decline, a refusal or a 5xx did not). */
export function succeeded(status: number): boolean {
  return status >= 200 && status < 300;
}
