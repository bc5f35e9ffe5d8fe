import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { pascal, validateManifest, visibilityTimeoutSeconds } from '../manifest';
import type { ConveyorManifest } from '../manifest';

export interface MessagingStackProps extends StackProps {
  manifest: ConveyorManifest;
}

export interface ConveyorQueue {
  queue: Queue;
  deadLetterQueue: Queue;
  dlqAlarm: Alarm;
}

/**
 * The SQS queues of QUEUES, each with a dead-letter queue and an alarm as soon as the DLQ holds
 * a message. Encryption: SQS-managed SSE (set explicitly), and TLS-only queue policies.
 * Visibility timeouts derive from the consumers' timeouts in FUNCTIONS (≥ 6 ×).
 */
export class MessagingStack extends Stack {
  readonly queues: Record<string, ConveyorQueue> = {};

  constructor(scope: Construct, id: string, props: MessagingStackProps) {
    super(scope, id, props);
    validateManifest(props.manifest);

    for (const spec of Object.values(props.manifest.queues)) {
      const id = `Queue${pascal(spec.name)}`;
      const fifo = spec.fifo ? { fifo: true, contentBasedDeduplication: true } : {};
      const deadLetterQueue = new Queue(this, `${id}Dlq`, {
        ...fifo,
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      const queue = new Queue(this, id, {
        ...fifo,
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(props.manifest, spec.name)),
        retentionPeriod: Duration.days(4),
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: spec.maxReceiveCount },
      });
      const dlqAlarm = new Alarm(this, `${id}DlqAlarm`, {
        alarmDescription: `Messages of queue "${spec.name}" reached its dead-letter queue`,
        metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      this.queues[spec.name] = { queue, deadLetterQueue, dlqAlarm };
      new CfnOutput(this, `${id}Url`, { value: queue.queueUrl, description: `SQS queue "${spec.name}" (${spec.envVar})` });
    }
  }
}
