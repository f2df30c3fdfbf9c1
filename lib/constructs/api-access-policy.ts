import { Stack } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import type { ApiRoute } from '../../src/api/routes.js';

/** `execute-api:/<stage>/<METHOD>/<path>` of a route, path parameters as wildcards. */
function routeResource(route: ApiRoute): string {
  return `execute-api:/*/${route.method}${route.path.replace(/\{\w+\}/g, '*')}`;
}

/**
 * An admin principal of the stage config as a principal ARN pattern: a role name becomes that role
 * of the stack's account, an ARN (pattern) is taken as it is.
 */
export function adminPrincipalArn(scope: IConstruct, principal: string): string {
  if (principal.startsWith('arn:')) return principal;
  const stack = Stack.of(scope);
  return `arn:${stack.partition}:iam::${stack.account}:role/${principal}`;
}

/**
 * The API's resource policy: customer and public routes are open to every caller (Cognito and the
 * API key decide who gets through), and the admin routes only to the admin principals, whatever
 * IAM policies other principals of the account hold. The explicit deny is what makes that hold: in
 * the same account an IAM policy alone would otherwise be enough to call an IAM-authorised route.
 * `aws:PrincipalArn` is the role ARN even for its assumed-role sessions.
 */
export function apiAccessPolicy(
  scope: IConstruct,
  routes: readonly ApiRoute[],
  adminPrincipals: readonly string[],
): PolicyDocument {
  if (adminPrincipals.length === 0) throw new Error('the API needs at least one admin principal');
  const admin = routes.filter((route) => route.auth === 'admin').map(routeResource);
  const others = routes.filter((route) => route.auth !== 'admin').map(routeResource);
  const operators = {
    'aws:PrincipalArn': adminPrincipals.map((principal) => adminPrincipalArn(scope, principal)),
  };
  return new PolicyDocument({
    statements: [
      new PolicyStatement({
        sid: 'CustomerAndPublicRoutes',
        principals: [new AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: others,
      }),
      new PolicyStatement({
        sid: 'AdminRoutesForOperators',
        principals: [new AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: admin,
        conditions: { ArnLike: operators },
      }),
      new PolicyStatement({
        sid: 'AdminRoutesForNobodyElse',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: admin,
        conditions: { ArnNotLike: operators },
      }),
    ],
  });
}
