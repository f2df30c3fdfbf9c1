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
import { type ApiGatewayHandler, apiHandler, type Route, routeOnFirstRequest } from '../../src/api/http.js';
import { containerAdminDependencies } from '../../src/roots/api.js';
import { logger } from '../../src/runtime/observability.js';
import { type Provider, perContainerProvider } from '../../src/runtime/per-container.js';

export interface AdminHandlers {
  readonly putProduct: ApiGatewayHandler;
  readonly getProduct: ApiGatewayHandler;
  readonly putWallet: ApiGatewayHandler;
  readonly getWallet: ApiGatewayHandler;
  readonly listCompensations: ApiGatewayHandler;
}

/** The admin routes over one set of dependencies (one pool, shared by all five). */
export function createAdminHandlers(dependencies: Provider<AdminDependencies>): AdminHandlers {
  const resolve = perContainerProvider(dependencies);
  const wrap = (build: (dependencies: AdminDependencies) => Route): ApiGatewayHandler =>
    middy(apiHandler(routeOnFirstRequest(() => build(resolve())))).use(
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

const handlers = createAdminHandlers(containerAdminDependencies);

export const putProductHandler = handlers.putProduct;
export const getProductHandler = handlers.getProduct;
export const putWalletHandler = handlers.putWallet;
export const getWalletHandler = handlers.getWallet;
export const listCompensationsHandler = handlers.listCompensations;
