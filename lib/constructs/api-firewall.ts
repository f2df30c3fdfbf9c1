import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { problemBody } from '../../src/api/problems.js';

export interface ApiFirewallProps {
  /** The API stage to protect. */
  readonly stage: Stage;
  /** Requests per minute from one IP address before it is blocked. @default 1000 */
  readonly requestsPerIpPerMinute?: number;
  /**
   * Requests per minute carrying one `Authorization` header (one customer's token) before it is
   * blocked: the customer's own request limit, applied here before the stage throttle (shared by
   * every customer) counts the request. The functions keep counting per customer, exactly.
   */
  readonly requestsPerTokenPerMinute: number;
  /** Checkouts (`POST <checkoutPath>`) per minute and token: the customer's checkout limit. */
  readonly checkoutsPerTokenPerMinute: number;
  /** The checkout route's path (`src/api/routes.ts`), matched at the end of the URI. */
  readonly checkoutPath: string;
}

/** The window of both rate rules. */
const WINDOW_SECONDS = 60;
/** AWS WAF refuses rate limits below this. */
const MIN_RATE_LIMIT = 10;
const RATE_LIMITED_BODY = 'RateLimited';

/**
 * A WAF web ACL in front of the API stage: AWS managed common and known-bad-input rules, and
 * rate-based rules that stop floods before they reach throttling and the functions: per source IP,
 * and per bearer token (a custom aggregation key on the `Authorization` header) at the customer's
 * own limits, for every request and for checkouts, so a customer is limited before anything they
 * share with everybody else (the stage throttle, the functions' concurrency) counts the request.
 * Blocked requests get the API's own 429 `RATE_LIMITED` problem with `Retry-After`.
 */
export class ApiFirewall extends Construct {
  readonly webAcl: CfnWebACL;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    const perIp = props.requestsPerIpPerMinute ?? 1000;
    const perToken = props.requestsPerTokenPerMinute;
    const checkoutsPerToken = props.checkoutsPerTokenPerMinute;
    for (const [name, limit] of Object.entries({
      requestsPerIpPerMinute: perIp,
      requestsPerTokenPerMinute: perToken,
      checkoutsPerTokenPerMinute: checkoutsPerToken,
    })) {
      if (!Number.isInteger(limit) || limit < MIN_RATE_LIMIT) {
        throw new Error(`${name} must be an integer of at least ${MIN_RATE_LIMIT} (AWS WAF), got ${limit}`);
      }
    }
    const visibility = (metricName: string): CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: true,
    });
    const managed = (name: string, priority: number): CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
      visibilityConfig: visibility(name),
    });
    const perTokenKey: CfnWebACL.RateBasedStatementCustomKeyProperty[] = [
      { header: { name: 'authorization', textTransformations: [{ priority: 0, type: 'NONE' }] } },
    ];
    const rateLimited: CfnWebACL.RuleActionProperty = {
      block: {
        customResponse: {
          responseCode: 429,
          customResponseBodyKey: RATE_LIMITED_BODY,
          responseHeaders: [{ name: 'Retry-After', value: String(WINDOW_SECONDS) }],
        },
      },
    };

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('checkout-api'),
      customResponseBodies: {
        [RATE_LIMITED_BODY]: {
          contentType: 'APPLICATION_JSON',
          content: problemBody(
            'RATE_LIMITED',
            'Too many requests from this client. Retry after the delay in Retry-After.',
          ),
        },
      },
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 0,
          action: rateLimited,
          statement: {
            rateBasedStatement: { limit: perIp, evaluationWindowSec: WINDOW_SECONDS, aggregateKeyType: 'IP' },
          },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        {
          // Requests without the header are not counted here; the IP rule and the authorizer see them.
          name: 'RateLimitPerToken',
          priority: 1,
          action: rateLimited,
          statement: {
            rateBasedStatement: {
              limit: perToken,
              evaluationWindowSec: WINDOW_SECONDS,
              aggregateKeyType: 'CUSTOM_KEYS',
              customKeys: perTokenKey,
            },
          },
          visibilityConfig: visibility('RateLimitPerToken'),
        },
        {
          // Only checkouts count here: POST on the checkout path, per token.
          name: 'CheckoutsPerToken',
          priority: 2,
          action: rateLimited,
          statement: {
            rateBasedStatement: {
              limit: checkoutsPerToken,
              evaluationWindowSec: WINDOW_SECONDS,
              aggregateKeyType: 'CUSTOM_KEYS',
              customKeys: perTokenKey,
              scopeDownStatement: {
                andStatement: {
                  statements: [
                    {
                      byteMatchStatement: {
                        fieldToMatch: { method: {} },
                        positionalConstraint: 'EXACTLY',
                        searchString: 'POST',
                        textTransformations: [{ priority: 0, type: 'NONE' }],
                      },
                    },
                    {
                      // The stage name precedes it on the execute-api host; a custom domain has none.
                      byteMatchStatement: {
                        fieldToMatch: { uriPath: {} },
                        positionalConstraint: 'ENDS_WITH',
                        searchString: props.checkoutPath,
                        textTransformations: [{ priority: 0, type: 'NONE' }],
                      },
                    },
                  ],
                },
              },
            },
          },
          visibilityConfig: visibility('CheckoutsPerToken'),
        },
        managed('AWSManagedRulesCommonRuleSet', 3),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 4),
      ],
    });
    new CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}
