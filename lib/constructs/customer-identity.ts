import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccountRecovery,
  FeaturePlan,
  Mfa,
  StandardThreatProtectionMode,
  UserPool,
  type UserPoolClient,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

export interface CustomerIdentityProps {
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
  /**
   * Cognito Plus: threat protection (compromised credentials, adaptive authentication). Billed per
   * active user, so production only.
   * @default false
   */
  readonly threatProtection?: boolean;
  /**
   * A second app client for the smoke test (`npm run smoke`), signing in only through the
   * IAM-authorised admin API (ADMIN_USER_PASSWORD_AUTH): no customer app can use it without AWS
   * credentials allowed `cognito-idp:AdminInitiateAuth` on this pool. Non-production only.
   * @default false
   */
  readonly smokeTestClient?: boolean;
}

/**
 * The Cognito user pool customers sign in to; its ID tokens are what the API's authorizer accepts,
 * and the token's `sub` is the customer id (docs/openapi.yaml).
 */
export class CustomerIdentity extends Construct {
  readonly userPool: UserPool;
  /**
   * The web and mobile apps' client: public (no secret), SRP sign-in and refresh tokens only. No
   * hosted-UI OAuth flows (CDK's default would allow the implicit grant with an example callback):
   * the apps sign in through the user pool API and send the ID token.
   */
  readonly appClient: UserPoolClient;
  /** The smoke test's client (see {@link CustomerIdentityProps.smokeTestClient}). */
  readonly smokeTestClient?: UserPoolClient;

  constructor(scope: Construct, id: string, props: CustomerIdentityProps) {
    super(scope, id);
    this.userPool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: true,
      signInAliases: { email: true },
      autoVerify: { email: true },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { sms: false, otp: true },
      featurePlan: props.threatProtection ? FeaturePlan.PLUS : FeaturePlan.ESSENTIALS,
      ...(props.threatProtection
        ? { standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION }
        : {}),
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
    this.appClient = this.userPool.addClient('AppClient', {
      generateSecret: false,
      authFlows: { userSrp: true },
      // Refresh tokens are always allowed; without OAuth there is no authorize endpoint to abuse.
      disableOAuth: true,
      supportedIdentityProviders: [],
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });
    if (props.smokeTestClient) {
      this.smokeTestClient = this.userPool.addClient('SmokeTestClient', {
        generateSecret: false,
        authFlows: { adminUserPassword: true },
        disableOAuth: true,
        supportedIdentityProviders: [],
        preventUserExistenceErrors: true,
        accessTokenValidity: Duration.minutes(15),
        idTokenValidity: Duration.minutes(15),
        refreshTokenValidity: Duration.hours(1),
      });
    }

    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'Shoppers choose MFA (TOTP) themselves; requiring it at checkout would block guest-like flows. ' +
        'Payment authorisation happens at the card network, not on this password alone.',
    });
    if (!props.threatProtection) {
      Validations.of(this.userPool).acknowledge({
        id: 'AwsSolutions-COG8',
        reason:
          'Non-production stage without real customers; production enables the Plus tier with threat protection.',
      });
    }
  }
}
