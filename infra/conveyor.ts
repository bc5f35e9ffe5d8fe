/**
 * Composes the Conveyor cloud from the manifest.
 *
 * Layout: one stack per concern, wired with cross-stack references that all point one way
 * (Api → Data, Api → Messaging, Schedules → Api), so IAM grants never form a cycle:
 *  - DataStack      (stacks/data-stack.ts):      DynamoDB tables + S3 file-store bucket (stateful, RETAIN)
 *  - MessagingStack (stacks/messaging-stack.ts): SQS queues, DLQs, DLQ alarms
 *  - ApiStack       (stacks/api-stack.ts):       functions, their grants and triggers, the HTTP API
 *  - SchedulesStack (stacks/schedules-stack.ts): EventBridge Scheduler schedules (only created
 *    when some function declares a `schedule`; an empty stack cannot be deployed)
 *  - Web stack (constructs/web-ui-distribution.ts): the web UI's bucket and the CloudFront
 *    distribution serving it at `/` and the HTTP API at `/api/*` (Web → Api)
 * Grants are added to the functions' roles (in ApiStack), never to resource policies in the
 * producer stacks; encryption uses AWS-managed keys, so there are no key policies to update.
 * Per-worker queues are created at run time (worker registration), not by CloudFormation: IAM is
 * scoped to their name prefix (`<prefix lower-cased>-worker-*`, e.g. `conveyor-worker-*`), and
 * workers receive temporary credentials for their own queue only (ApiStack.workerQueueAccessRole).
 */
import { Stack, type Environment } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { CONVEYOR_MANIFEST, validateManifest } from './manifest';
import type { ConveyorManifest } from './manifest';
import { ApiStack } from './stacks/api-stack';
import { DataStack } from './stacks/data-stack';
import { MessagingStack } from './stacks/messaging-stack';
import { SchedulesStack, hasSchedules } from './stacks/schedules-stack';
import { WebUiDistribution } from './constructs/web-ui-distribution';
import { acknowledgeNagFindings } from './nag';

export interface ConveyorOptions {
  manifest?: ConveyorManifest;
  /** Stack names are `${prefix}-Data`, `${prefix}-Messaging`, ... Default "Conveyor". */
  prefix?: string;
  env?: Environment;
  /** Where the entries of FUNCTIONS are resolved (default: this repository). */
  repoRoot?: string;
  /** Default sender of notification e-mails, an SES-verified identity (see ApiStackProps.notifyFrom). */
  notifyFrom?: string;
}

export interface ConveyorStacks {
  data: DataStack;
  messaging: MessagingStack;
  api: ApiStack;
  schedules?: SchedulesStack;
  /** The web UI's bucket and the CloudFront distribution serving it and the API on one host. */
  web: Stack & { webUi: WebUiDistribution };
}

/** `Conveyor` → `conveyor-worker-`: one deployment's worker queues never mix with another's. */
export function workerQueuePrefix(stackPrefix: string): string {
  return `${stackPrefix.toLowerCase().replace(/[^a-z0-9_-]+/g, '-')}-worker-`;
}

export function createConveyor(scope: Construct, options: ConveyorOptions = {}): ConveyorStacks {
  const manifest = options.manifest ?? CONVEYOR_MANIFEST;
  validateManifest(manifest);
  const prefix = options.prefix ?? 'Conveyor';
  const common = options.env ? { env: options.env } : {};

  const data = new DataStack(scope, `${prefix}-Data`, { ...common, manifest, description: 'Conveyor: tables and file store' });
  const messaging = new MessagingStack(scope, `${prefix}-Messaging`, {
    ...common,
    manifest,
    description: 'Conveyor: queues, dead-letter queues and alarms',
  });
  const api = new ApiStack(scope, `${prefix}-Api`, {
    ...common,
    manifest,
    description: 'Conveyor: functions and HTTP API',
    tables: data.tables,
    bucket: data.bucket,
    queues: Object.fromEntries(Object.entries(messaging.queues).map(([name, q]) => [name, q.queue])),
    workerQueuePrefix: workerQueuePrefix(prefix),
    ...(options.repoRoot ? { repoRoot: options.repoRoot } : {}),
    ...(options.notifyFrom ? { notifyFrom: options.notifyFrom } : {}),
  });
  const web = new Stack(scope, `${prefix}-Web`, { ...common, description: 'Conveyor: web UI and API on one CloudFront host' });
  const webUi = new WebUiDistribution(web, 'WebUi', { api: api.api });
  const stacks: ConveyorStacks = { data, messaging, api, web: Object.assign(web, { webUi }) };
  if (hasSchedules(manifest)) {
    stacks.schedules = new SchedulesStack(scope, `${prefix}-Schedules`, {
      ...common,
      manifest,
      description: 'Conveyor: schedules',
      functions: Object.fromEntries(Object.entries(api.functions).map(([name, f]) => [name, f.fn])),
    });
  }
  acknowledgeNagFindings(stacks);
  return stacks;
}
