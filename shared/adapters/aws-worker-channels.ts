/**
 * The workers' own queues (SQS, with STS on AWS): a module of its own so that only the functions
 * wired with `workerChannels` require the STS SDK package at cold start (see aws-clients.ts).
 */
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsAdapter } from './aws-adapters';
import { clientBase, sqsClient, type AwsContext } from './aws-clients';
import { SqsWorkerChannels } from './sqs/worker-channels';

export function stsClient(ctx: AwsContext): STSClient {
  return (ctx.clients.sts ??= new STSClient(clientBase(ctx, 'STS')));
}

export const workerChannels: AwsAdapter<'workerChannels'> = (ctx) =>
  new SqsWorkerChannels(sqsClient(ctx), {
    prefix: ctx.config.workerQueuePrefix,
    roleArn: ctx.config.workerQueueRoleArn,
    sts: ctx.config.workerQueueRoleArn ? stsClient(ctx) : undefined,
    region: ctx.config.region,
    endpoint: ctx.config.sqsEndpoint,
  });
