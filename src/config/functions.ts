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
 * What each deployed handler needs, declared once: the configuration groups it reads and, where a
 * function uses less of the resource behind a group than the whole of it, how much
 * ({@link limitedTo}). The composition roots read exactly these groups (`src/roots/`); the CDK app
 * sets their variables and grants what they name (the API's functions in
 * `lib/constructs/api-handlers.ts` from these lists alone); `test/infra/function-environments.test.ts`
 * proves that every function of the synthesized templates gets exactly the variables of its
 * handler's groups. Every function also reads {@link lambda} and {@link powertools}.
 */
export const COMMON_GROUPS = [lambda, powertools] as const;

/** How much of a group's resource a function may use, where that is less than all of it. */
export type Access =
  /** The customer limits table: requests per minute only. */
  | 'requests'
  /** The customer limits table: requests and checkouts per minute. */
  | 'checkouts'
  /** The idempotency table: DescribeTable, no item access (the readiness probe). */
  | 'probe'
  /** The state machine: StartExecution through its `live` alias. */
  | 'start'
  /** The state machine: DescribeExecution of its executions only. */
  | 'describe'
  /** The payment provider: its endpoint, to report the breaker; no credential, never called. */
  | 'breakerOnly'
  /** The operator controls table: one Query of the switches' partition (checkout's kill switch). */
  | 'switches';

/** A group a function reads, with how much of the resource behind it it uses. */
export type LimitedGroup<G extends ConfigGroup = ConfigGroup> = G & { readonly access: Access };

/** `group`, used only as far as `access` says; the configuration read is the group's. */
export function limitedTo<G extends ConfigGroup>(group: G, access: Access): LimitedGroup<G> {
  return { ...group, access };
}

/** The access a declared group grants: `undefined` for all of its resource. */
export function accessOf(group: ConfigGroup): Access | undefined {
  return (group as Partial<LimitedGroup>).access;
}

const paymentClient = [database, paymentProvider, providerSecret] as const;

export const CHECKOUT_FUNCTION = [
  database,
  idempotency,
  limitedTo(customerLimits, 'checkouts'),
  limitedTo(operatorControls, 'switches'),
  limitedTo(stateMachine, 'start'),
  sagaStart,
] as const;
export const ORDER_READ_FUNCTION = [database, limitedTo(customerLimits, 'requests')] as const;
export const LIVENESS_FUNCTION = [] as const;
export const READINESS_FUNCTION = [
  database,
  limitedTo(idempotency, 'probe'),
  limitedTo(paymentProvider, 'breakerOnly'),
] as const;
export const ADMIN_FUNCTION = [database] as const;
export const ADMIN_ORDER_FUNCTION = [database, limitedTo(stateMachine, 'describe')] as const;
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
  { entry: 'local/payment-provider/function.ts', handler: 'handler', groups: PAYMENT_PROVIDER_FUNCTION },
];

/** Every saga task handler (`lambdas/saga/*.ts`, one per Task state of the ASL) reads the same groups. */
const SAGA_TASK_DIRECTORY = 'lambdas/saga/';

/** The groups a handler reads, without the common ones; `undefined` for a handler nobody declared. */
export function needsOf(entry: string, handler: string): readonly ConfigGroup[] | undefined {
  return entry.startsWith(SAGA_TASK_DIRECTORY)
    ? SAGA_TASK_FUNCTION
    : FUNCTION_DECLARATIONS.find((declared) => declared.entry === entry && declared.handler === handler)
        ?.groups;
}

/** The groups a handler reads, common ones included; `undefined` for a handler nobody declared. */
export function declarationOf(entry: string, handler: string): readonly ConfigGroup[] | undefined {
  const groups = needsOf(entry, handler);
  return groups ? [...COMMON_GROUPS, ...groups] : undefined;
}
