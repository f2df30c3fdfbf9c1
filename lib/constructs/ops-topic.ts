import type { RemovalPolicy } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface OpsTopicProps {
  readonly removalPolicy: RemovalPolicy;
  /** Subscribed by e-mail (confirm the subscription mail once). @default - no subscription */
  readonly email?: string;
}

/**
 * The SNS topic every alarm notifies. Encrypted with a customer managed key because CloudWatch
 * cannot publish to a topic under the AWS managed SNS key; the key lets CloudWatch in, and the
 * topic accepts CloudWatch alarms of this account only. Grants on the key may be created only for
 * AWS services working on an AWS resource (Control Tower CT.KMS.PR.3): nobody can hand its use to a
 * principal its policy does not name.
 */
export class OpsTopic extends Construct {
  readonly topic: Topic;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: OpsTopicProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: 'Encrypts the checkout ops topic',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    this.key.grant(cloudWatch, 'kms:Decrypt', 'kms:GenerateDataKey');
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'GrantsOnlyForAwsServices',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: {
          BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
        },
      }),
    );

    this.topic = new Topic(this, 'Topic', {
      displayName: 'Checkout operations',
      masterKey: this.key,
      enforceSSL: true,
    });
    const { account, partition, region } = this.topic.stack;
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarms',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
        },
      }),
    );
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
  }
}
