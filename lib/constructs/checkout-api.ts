import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  ApiKey,
  AuthorizationType,
  CognitoUserPoolsAuthorizer,
  EndpointType,
  type IApiKey,
  JsonSchemaType,
  JsonSchemaVersion,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  MethodLoggingLevel,
  type Model,
  type RequestValidator,
  ResponseType,
  RestApi,
  type UsagePlan,
} from 'aws-cdk-lib/aws-apigateway';
import type { IUserPool } from 'aws-cdk-lib/aws-cognito';
import type { PolicyDocument } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { GATEWAY_PROBLEMS, problemBody } from '../../src/api/problems.js';
import { type ApiRoute, takesJsonBody } from '../../src/api/routes.js';
import { acknowledgeFalsePositive } from '../policy-validation.js';

export interface ApiThrottle {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  readonly burstLimit: number;
}

export interface CheckoutApiProps {
  /** The route table (`src/api/routes.ts`): every route, and only those, becomes a method. */
  readonly routes: readonly ApiRoute[];
  /** The function serving each route, by operation id. */
  readonly handlers: ReadonlyMap<string, IFunction>;
  /** Customers' user pool: its ID tokens authorise the customer routes. */
  readonly userPool: IUserPool;
  /** The API Gateway stage, e.g. `dev`. */
  readonly stageName: string;
  /** Limits of the whole stage (sized from the budget, docs/adr/0020). */
  readonly throttle: ApiThrottle;
  /**
   * One API key in the usage plan per client app (`web`, `mobile`, ...). Every customer of an app
   * shares its key, so the plan has no quota and no throttle of its own: nothing a handful of
   * accounts could use up for everyone. Customers are limited one by one before the stage counts
   * them (the firewall's per-token rules, then the functions), and the stage throttle bounds all.
   */
  readonly apiClients: readonly string[];
  readonly logRetention: RetentionDays;
  /** The API's resource policy (see `apiAccessPolicy`). @default - none */
  readonly policy?: PolicyDocument;
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** `{name}` segments of an API Gateway resource path. */
function pathParameters(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1] as string);
}

/**
 * The REST API built from the route table: Cognito authoriser (plus an API key in the usage plan)
 * on customer routes, IAM on admin routes, public health routes; request validation, JSON access
 * logs, X-Ray, stage throttling and a usage plan that identifies the client apps.
 */
export class CheckoutApi extends Construct {
  readonly api: RestApi;
  readonly authorizer: CognitoUserPoolsAuthorizer;
  readonly usagePlan: UsagePlan;
  /** The API key of each client app, by client name. */
  readonly apiKeys: ReadonlyMap<string, IApiKey>;
  readonly accessLogs: LogGroup;
  /** The method of each route, by operation id. */
  readonly methods: ReadonlyMap<string, Method>;

  constructor(scope: Construct, id: string, props: CheckoutApiProps) {
    super(scope, id);
    const unserved = props.routes.filter((route) => !props.handlers.has(route.operationId));
    if (unserved.length > 0) {
      throw new Error(`no handler for route(s) ${unserved.map((route) => route.operationId).join(', ')}`);
    }

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    this.api = new RestApi(this, 'Api', {
      description: 'Checkout API (docs/openapi.yaml)',
      endpointTypes: [EndpointType.REGIONAL],
      ...(props.policy ? { policy: props.policy } : {}),
      // Execution logs (errors only) need the account-level CloudWatch role. Every API of the account
      // and region uses it, so it stays when the stack goes, unless the deploy that created it failed
      // (docs/runbooks/failed-deploy-migration.md, "A first deploy that failed").
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      deployOptions: {
        stageName: props.stageName,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: jsonAccessLogFormat(),
        loggingLevel: MethodLoggingLevel.ERROR,
        // Request and response bodies carry customer data: never in the execution logs.
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
      },
    });

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'The account-level role API Gateway uses to write execution logs; the AWS maintained policy is the ' +
        'documented one and only allows writing API Gateway log groups.',
    });

    this.authorizer = new CognitoUserPoolsAuthorizer(this, 'CustomerAuthorizer', {
      cognitoUserPools: [props.userPool],
      identitySource: 'method.request.header.Authorization',
    });

    // Field-level validation (with `errors[]`) is the handlers' job; the gateway only turns away
    // what is not even a JSON object, and checks declared parameters.
    const validator: RequestValidator = this.api.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const jsonObject = this.api.addModel('JsonObject', {
      contentType: 'application/json',
      description: 'Any JSON object; the handler validates its fields',
      schema: { schema: JsonSchemaVersion.DRAFT4, title: 'JsonObject', type: JsonSchemaType.OBJECT },
    });

    this.addGatewayResponses();
    this.methods = this.addRoutes(props, validator, jsonObject);
    const apiKeys = new Map<string, IApiKey>();
    this.usagePlan = this.addUsagePlan(props, apiKeys);
    this.apiKeys = apiKeys;
  }

  /** Gateway-made errors in the API's own problem format (the list lives with the problem codes). */
  private addGatewayResponses(): void {
    for (const problem of GATEWAY_PROBLEMS) {
      const type = ResponseType.of(problem.responseType);
      this.api.addGatewayResponse(problem.responseType, {
        type,
        statusCode: String(problem.statusCode),
        responseHeaders: { ...problem.headers },
        templates: {
          'application/json': problemBody(problem.code, `${problem.detail} Request id: $context.requestId.`),
        },
      });
    }
  }

  /** One method per route, with its authorisation and the gateway's request checks. */
  private addRoutes(
    props: CheckoutApiProps,
    validator: RequestValidator,
    jsonObject: Model,
  ): Map<string, Method> {
    const methods = new Map<string, Method>();
    for (const route of props.routes) {
      const handler = props.handlers.get(route.operationId) as IFunction;
      const resource = this.api.root.resourceForPath(route.path);
      const requestParameters: Record<string, boolean> = {};
      for (const name of pathParameters(route.path)) requestParameters[`method.request.path.${name}`] = true;
      const method = resource.addMethod(
        route.method,
        new LambdaIntegration(handler, { proxy: true, allowTestInvoke: false }),
        {
          operationName: route.operationId,
          requestValidator: validator,
          requestParameters,
          ...(takesJsonBody(route) ? { requestModels: { 'application/json': jsonObject } } : {}),
          ...(route.auth === 'customer'
            ? {
                authorizationType: AuthorizationType.COGNITO,
                authorizer: this.authorizer,
                apiKeyRequired: true,
              }
            : route.auth === 'admin'
              ? { authorizationType: AuthorizationType.IAM }
              : { authorizationType: AuthorizationType.NONE }),
        },
      );
      if (route.auth === 'admin') {
        Validations.of(method).acknowledge({
          id: 'AwsSolutions-COG4',
          reason:
            'Admin routes are for operators and their tooling: IAM (SigV4) authorised, by design (docs/openapi.yaml).',
        });
      } else if (route.auth === 'none') {
        Validations.of(method).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: 'Health check for load balancers and uptime probes: no customer data, stage-throttled.',
        });
        Validations.of(method).acknowledge({
          id: 'AwsSolutions-COG4',
          reason: 'Health check for load balancers and uptime probes: no customer data, stage-throttled.',
        });
      }
      // Lambda's invoke permission for the method, built by LambdaIntegration.
      acknowledgeFalsePositive(
        method,
        'CT.LAMBDA.PR.2',
        'API Gateway may invoke the function only from this method of this API: the SourceArn is the method ' +
          'ARN, an Fn::Join of the API and stage ids, which the rule does not read as a source restriction.',
      );
      methods.set(route.operationId, method);
    }
    return methods;
  }

  /** The usage plan and one API key per client app: no shared quota (see {@link CheckoutApiProps.apiClients}). */
  private addUsagePlan(props: CheckoutApiProps, apiKeys: Map<string, IApiKey>): UsagePlan {
    const usagePlan = this.api.addUsagePlan('UsagePlan', {
      description: 'The checkout client apps: keys without a quota; customers are limited one by one',
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    const keys = new Construct(this, 'ApiKeys');
    for (const client of props.apiClients) {
      // The key value is generated by API Gateway and never appears in the template.
      const key = new ApiKey(keys, client, { description: `Checkout API key of the ${client} app` });
      usagePlan.addApiKey(key);
      apiKeys.set(client, key);
    }
    return usagePlan;
  }
}

/** One JSON object per request in the access logs. */
function jsonAccessLogFormat(): AccessLogFormat {
  return AccessLogFormat.custom(
    JSON.stringify({
      requestId: AccessLogField.contextRequestId(),
      ip: AccessLogField.contextIdentitySourceIp(),
      caller: AccessLogField.contextIdentityCaller(),
      user: AccessLogField.contextIdentityUser(),
      apiKeyId: AccessLogField.contextIdentityApiKeyId(),
      requestTime: AccessLogField.contextRequestTime(),
      httpMethod: AccessLogField.contextHttpMethod(),
      resourcePath: AccessLogField.contextResourcePath(),
      status: AccessLogField.contextStatus(),
      protocol: AccessLogField.contextProtocol(),
      responseLength: AccessLogField.contextResponseLength(),
      responseLatency: AccessLogField.contextResponseLatency(),
      integrationLatency: AccessLogField.contextIntegrationLatency(),
      errorType: AccessLogField.contextErrorResponseType(),
      wafStatus: AccessLogField.contextWafStatus(),
      xrayTraceId: AccessLogField.contextXrayTraceId(),
    }),
  );
}
