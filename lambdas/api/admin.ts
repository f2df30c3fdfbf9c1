import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import {
  type AdminDependencies,
  createGetProductRoute,
  createGetWalletRoute,
  createListCompensationsRoute,
  createPutProductRoute,
  createPutWalletRoute,
} from '../../src/api/admin.js';
import {
  type ApiGatewayHandler,
  apiHandler,
  lazy,
  lazyRoute,
  type Provider,
  type Route,
} from '../../src/api/http.js';
import { CatalogStore } from '../../src/db/catalog.js';
import { CompensationStore } from '../../src/db/compensations.js';
import { WalletStore } from '../../src/db/wallets.js';
import { databasePool } from '../../src/runtime/database.js';
import { logger } from '../../src/runtime/observability.js';

export interface AdminHandlers {
  readonly putProduct: ApiGatewayHandler;
  readonly getProduct: ApiGatewayHandler;
  readonly putWallet: ApiGatewayHandler;
  readonly getWallet: ApiGatewayHandler;
  readonly listCompensations: ApiGatewayHandler;
}

/** The admin routes over one set of dependencies (one pool, shared by all five). */
export function createAdminHandlers(dependencies: Provider<AdminDependencies>): AdminHandlers {
  const resolve = lazy(dependencies);
  const wrap = (build: (dependencies: AdminDependencies) => Route): ApiGatewayHandler =>
    middy(apiHandler(lazyRoute(() => build(resolve())))).use(
      injectLambdaContext(logger, { resetKeys: true }),
    );
  return {
    putProduct: wrap(createPutProductRoute),
    getProduct: wrap(createGetProductRoute),
    putWallet: wrap(createPutWalletRoute),
    getWallet: wrap(createGetWalletRoute),
    listCompensations: wrap(createListCompensationsRoute),
  };
}

// Production wiring: the database (see src/runtime/database.ts), built on the first request.
const handlers = createAdminHandlers(() => {
  const sql = databasePool();
  return {
    catalog: new CatalogStore(sql),
    wallets: new WalletStore(sql),
    compensations: new CompensationStore(sql),
  };
});

export const putProductHandler = handlers.putProduct;
export const getProductHandler = handlers.getProduct;
export const putWalletHandler = handlers.putWallet;
export const getWalletHandler = handlers.getWallet;
export const listCompensationsHandler = handlers.listCompensations;
