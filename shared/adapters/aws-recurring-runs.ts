/**
 * The queued recurring-run hooks: a function wired with these sends each move of a run's request to
 * the `recurring-runs` queue, which the recurring-release function applies, instead of bundling the
 * recurring-job code (docs/decisions.md, "Per-function adapters and the bundle size budget").
 */
import { QUEUES } from '../manifest';
import type { AwsAdapter } from './aws-adapters';
import { sqsClient } from './aws-clients';
import { SqsRecurringRunHooks } from './sqs/recurring-run-queue';

export const queuedRecurringRunHooks: AwsAdapter<'recurringRunHooks'> = (ctx) =>
  new SqsRecurringRunHooks(sqsClient(ctx), (ctx.env ?? process.env)[QUEUES['recurring-runs'].envVar] || undefined);
