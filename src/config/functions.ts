import type { ConfigGroup } from './declarations.js';
import {
  compensationQueue,
  compensationWorker,
  customerLimits,
  database,
  idempotency,
  lambda,
  migrations,
  operatorControls,
  outboxRelay,
  paymentProvider,
  powertools,
  providerSecret,
  sagaStart,
  sagaStarter,
  stateMachine,
  sweeper,
} from './variables.js';

/**
 * What each deployed handler reads, by group. The composition roots read exactly these groups
 * (`src/roots/`), the CDK app sets them, and `test/infra/function-environments.test.ts` proves that
 * every function of the synthesized templates gets exactly the variables of its handler's groups.
 * Every function also reads {@link lambda} and {@link powertools}.
 */
export const COMMON_GROUPS = [lambda, powertools] as const;

const paymentClient = [database, paymentProvider, providerSecret] as const;

export const CHECKOUT_FUNCTION = [
  database,
  idempotency,
  customerLimits,
  operatorControls,
  stateMachine,
  sagaStart,
] as const;
export const ORDER_READ_FUNCTION = [database, customerLimits] as const;
export const LIVENESS_FUNCTION = [] as const;
export const READINESS_FUNCTION = [database, idempotency, paymentProvider] as const;
export const ADMIN_FUNCTION = [database] as const;
export const ADMIN_ORDER_FUNCTION = [database, stateMachine] as const;
export const COMPENSATION_RETRY_FUNCTION = [database, compensationQueue] as const;
export const SAGA_TASK_FUNCTION = paymentClient;
export const COMPENSATION_WORKER_FUNCTION = [
  ...paymentClient,
  idempotency,
  compensationWorker,
  compensationQueue,
] as const;
export const SAGA_STARTER_FUNCTION = [database, stateMachine, sagaStart, sagaStarter] as const;
export const SWEEPER_FUNCTION = [...paymentClient, stateMachine, compensationQueue, sweeper] as const;
export const OUTBOX_RELAY_FUNCTION = [database, outboxRelay] as const;
export const MIGRATION_FUNCTION = [database, migrations] as const;
export const PAYMENT_PROVIDER_FUNCTION = [providerSecret] as const;

/** A handler (module relative to the repository root, and export) and the groups it reads. */
export interface FunctionDeclaration {
  readonly entry: string;
  readonly handler: string;
  readonly groups: readonly ConfigGroup[];
}

const api = (entry: string, handlers: readonly string[], groups: readonly ConfigGroup[]) =>
  handlers.map((handler) => ({ entry: `lambdas/api/${entry}`, handler, groups }));

/** Every deployed handler but the saga tasks (see {@link declarationOf}). */
export const FUNCTION_DECLARATIONS: readonly FunctionDeclaration[] = [
  ...api('checkout.ts', ['handler'], CHECKOUT_FUNCTION),
  ...api('orders.ts', ['handler'], ORDER_READ_FUNCTION),
  ...api('health.ts', ['liveHandler'], LIVENESS_FUNCTION),
  ...api('health.ts', ['readyHandler'], READINESS_FUNCTION),
  ...api(
    'admin.ts',
    [
      'putProductHandler',
      'getProductHandler',
      'putWalletHandler',
      'getWalletHandler',
      'listCompensationsHandler',
    ],
    ADMIN_FUNCTION,
  ),
  ...api('operations.ts', ['getAdminOrderHandler'], ADMIN_ORDER_FUNCTION),
  ...api('operations.ts', ['retryCompensationHandler'], COMPENSATION_RETRY_FUNCTION),
  {
    entry: 'lambdas/workers/compensation-worker.ts',
    handler: 'handler',
    groups: COMPENSATION_WORKER_FUNCTION,
  },
  { entry: 'lambdas/workers/saga-starter.ts', handler: 'handler', groups: SAGA_STARTER_FUNCTION },
  { entry: 'lambdas/workers/sweeper.ts', handler: 'handler', groups: SWEEPER_FUNCTION },
  { entry: 'lambdas/workers/outbox-relay.ts', handler: 'handler', groups: OUTBOX_RELAY_FUNCTION },
  { entry: 'lambdas/ops/migrate.ts', handler: 'handler', groups: MIGRATION_FUNCTION },
  { entry: 'lambdas/ops/payment-provider.ts', handler: 'handler', groups: PAYMENT_PROVIDER_FUNCTION },
];

/** Every saga task handler (`lambdas/saga/*.ts`, one per Task state of the ASL) reads the same groups. */
const SAGA_TASK_DIRECTORY = 'lambdas/saga/';

/** The groups a handler reads, common ones included; `undefined` for a handler nobody declared. */
export function declarationOf(entry: string, handler: string): readonly ConfigGroup[] | undefined {
  const groups = entry.startsWith(SAGA_TASK_DIRECTORY)
    ? SAGA_TASK_FUNCTION
    : FUNCTION_DECLARATIONS.find((declared) => declared.entry === entry && declared.handler === handler)
        ?.groups;
  return groups ? [...COMMON_GROUPS, ...groups] : undefined;
}
