import { Duration } from 'aws-cdk-lib';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import type { JobBudget } from '../../src/config/budget.js';
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
  /** Its line of the budget: a timeout under its period and the lease of the events it claims. */
  readonly budget: JobBudget;
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
      budget: props.budget,
      logRetention: props.logRetention,
      powertools: props.powertools,
      vpc: props.vpc,
      securityGroups: [props.database.clientSecurityGroup],
      schedule: ScheduleExpression.rate(Duration.seconds(props.budget.everySeconds)),
      scheduleDescription: 'Checkout outbox relay',
    });
    const fn = this.job.handler.function;
    props.database.grantConnect(this.job.handler);
    setEnvironment(fn, config.outboxRelay, {
      eventBusName: props.eventBus.eventBusName,
      leaseSeconds: props.budget.leaseSeconds,
    });
    props.eventBus.grantPutEventsTo(fn);
  }
}
