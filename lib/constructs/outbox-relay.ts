import { Duration } from 'aws-cdk-lib';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import * as config from '../../src/config/variables.js';
import type { PowertoolsSettings } from './checkout-function.js';
import type { CheckoutDatabase } from './database.js';
import { setEnvironment } from './function-environment.js';
import { ScheduledFunction } from './scheduled-function.js';

export interface OutboxRelayProps {
  readonly database: CheckoutDatabase;
  /** Where the outbox events go. */
  readonly eventBus: IEventBus;
  readonly vpc: IVpc;
  readonly logRetention: RetentionDays;
  readonly powertools: PowertoolsSettings;
}

/**
 * The outbox relay (`lambdas/workers/outbox-relay.ts`): every minute, publishes the committed
 * outbox events to the event bus. Its timeout stays under the one-minute period and the 60 s row
 * lease, so runs rarely overlap (and overlapping runs are safe: events are leased).
 */
export class OutboxRelay extends Construct {
  readonly job: ScheduledFunction;

  constructor(scope: Construct, id: string, props: OutboxRelayProps) {
    super(scope, id);
    this.job = new ScheduledFunction(this, 'Job', {
      entry: 'lambdas/workers/outbox-relay.ts',
      description: 'Publishes committed outbox events to the checkout event bus',
      timeout: Duration.seconds(50),
      logRetention: props.logRetention,
      powertools: props.powertools,
      vpc: props.vpc,
      securityGroups: [props.database.clientSecurityGroup],
      schedule: ScheduleExpression.rate(Duration.minutes(1)),
      scheduleDescription: 'Checkout outbox relay',
    });
    const fn = this.job.handler.function;
    props.database.grantConnect(fn);
    setEnvironment(fn, config.outboxRelay, { eventBusName: props.eventBus.eventBusName });
    props.eventBus.grantPutEventsTo(fn);
  }
}
