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
import { adminDependencies } from '../../src/api/dependencies.js';
import {
  type ApiGatewayHandler,
  apiHandler,
  lazy,
  lazyRoute,
  type Provider,
  type Route,
} from '../../src/api/http.js';
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

const handlers = createAdminHandlers(adminDependencies);

export const putProductHandler = handlers.putProduct;
export const getProductHandler = handlers.getProduct;
export const putWalletHandler = handlers.putWallet;
export const getWalletHandler = handlers.getWallet;
export const listCompensationsHandler = handlers.listCompensations;
