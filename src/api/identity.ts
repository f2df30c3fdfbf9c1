import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ProblemError } from './problems.js';

/**
 * Who is calling, read from what API Gateway puts into the event after authorising the request:
 * the Cognito user-pool authorizer's claims for customers (`sub` is the customer id), the SigV4
 * caller for IAM-authorised admin routes. Handlers read only the event, so anything that puts the
 * identities into the same places can stand in for API Gateway.
 */

/** Customer ids are Cognito `sub`s (uuids) in AWS; any short printable id is accepted. */
const CUSTOMER_ID = /^[^\p{Cc}\p{Cs}\s]{1,128}$/u;

/** The customer id when the request carries valid customer claims. */
export function customerIdOf(event: APIGatewayProxyEvent): string | undefined {
  const claims: unknown = event.requestContext?.authorizer?.claims;
  if (typeof claims !== 'object' || claims === null) return undefined;
  const sub = (claims as Record<string, unknown>).sub;
  return typeof sub === 'string' && CUSTOMER_ID.test(sub) ? sub : undefined;
}

/** The IAM principal of an admin request, when SigV4 authorised it. */
export function adminPrincipalOf(event: APIGatewayProxyEvent): string | undefined {
  const userArn = event.requestContext?.identity?.userArn;
  return typeof userArn === 'string' && userArn.length > 0 ? userArn : undefined;
}

/** The customer id, or a 401 problem. */
export function requireCustomer(event: APIGatewayProxyEvent): string {
  const customerId = customerIdOf(event);
  if (customerId === undefined) {
    throw new ProblemError('UNAUTHORIZED', 'A valid customer bearer token is required.');
  }
  return customerId;
}

/**
 * The admin principal, or a problem: 403 when the caller is authenticated as a customer (a valid
 * identity without admin rights), 401 when it is not authenticated at all.
 */
export function requireAdmin(event: APIGatewayProxyEvent): string {
  const principal = adminPrincipalOf(event);
  if (principal !== undefined) return principal;
  if (customerIdOf(event) !== undefined) {
    throw new ProblemError('FORBIDDEN', 'Admin routes are not available to customers.');
  }
  throw new ProblemError('UNAUTHORIZED', 'Admin routes need IAM (SigV4) credentials.');
}
