/**
 * WorkerChannels on SQS: one standard queue per worker, `<prefix><worker name>`, where the server
 * posts `{"type":"work_request_available","work_request_id":7}` and `{"type":"abort","work_request_id":7}`
 * and the worker long-polls (the queue's default wait is 20 s, so even a naive receive long-polls).
 *
 * Queues can disappear under a worker record: the local stack keeps queues in memory only, and SQS
 * may delete a queue nobody used for 30 days. So `access` (what a worker calls when it starts, and
 * again when its queue fails it) re-creates the queue, idempotently, and `send` treats a missing
 * queue as a notification nobody can hear (logged, not thrown: the assignment itself is committed,
 * and the worker finds it with get-next-for-worker once it listens again).
 *
 * Credentials (`access`):
 * - On AWS (`roleArn` set) the function assumes the worker-queue access role with an inline session
 *   policy naming only this worker's queue ARN: the temporary credentials can receive, delete and
 *   change the visibility of messages of that one queue and nothing else (the effective permissions
 *   are the intersection of the role's policy, itself limited to `<prefix>*`, and the session policy).
 *   They last one hour (the limit for role chaining); the worker asks again before they expire.
 * - Locally (no role) the worker gets the queue URL and the emulator's endpoint, and no credentials:
 *   it uses the local stack's dummy credentials (local-aws-sqs checks none).
 */
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  QueueNameExists,
  SendMessageCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { createHash } from 'node:crypto';
import type { QueueAccess, WorkerChannels, WorkerMessage } from '../../ports';

/** SQS's limit on queue names (standard queues). */
export const MAX_QUEUE_NAME_LENGTH = 80;
/**
 * Temporary credentials of a worker: 15 minutes, the least STS grants (security finding 7). A
 * disabled worker's token is refused at once; the credentials it already holds are not revoked
 * (STS cannot revoke one session) but die within this time, and meanwhile they only receive from
 * its own queue, to which nothing is sent once it is disabled (docs/security.md).
 */
export const WORKER_CREDENTIALS_SECONDS = 900;
/** What a worker may do on its own queue. */
export const WORKER_QUEUE_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'] as const;

export const WORKER_QUEUE_ATTRIBUTES: Record<string, string> = {
  ReceiveMessageWaitTimeSeconds: '20',
  // An assignment the worker has not picked up within a day is stale anyway: get-next-for-worker
  // returns the work it holds whatever the queue says.
  MessageRetentionPeriod: String(24 * 3600),
  SqsManagedSseEnabled: 'true',
};

export interface SqsWorkerChannelsOptions {
  /** Queue names are `<prefix><worker name>` (default prefix `conveyor-worker-`). */
  prefix: string;
  /** The worker-queue access role (cloud); without it `access` hands out no credentials (local stack). */
  roleArn?: string | undefined;
  sts?: STSClient | undefined;
  region: string;
  /** SQS endpoint the worker must use (local stack); absent on AWS. */
  endpoint?: string | undefined;
}

/** The message as the worker sees it on the wire (snake_case, like the REST API). */
export function workerMessageBody(message: WorkerMessage): string {
  return JSON.stringify({ type: message.type, work_request_id: message.workRequestId });
}

export class SqsWorkerChannels implements WorkerChannels {
  constructor(
    private readonly sqs: SQSClient,
    private readonly opts: SqsWorkerChannelsOptions,
  ) {
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(opts.prefix)) {
      throw new Error(`SqsWorkerChannels: invalid worker queue prefix ${JSON.stringify(opts.prefix)}`);
    }
    if (opts.roleArn && !opts.sts) throw new Error('SqsWorkerChannels: a role ARN needs an STS client');
  }

  /** `<prefix><name>`; a name too long for SQS is shortened and made unique with a hash of it. */
  queueName(workerName: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(workerName)) throw new Error(`invalid worker name for a queue: ${JSON.stringify(workerName)}`);
    const full = `${this.opts.prefix}${workerName}`;
    if (full.length <= MAX_QUEUE_NAME_LENGTH) return full;
    const hash = createHash('sha256').update(workerName).digest('hex').slice(0, 8);
    return `${full.slice(0, MAX_QUEUE_NAME_LENGTH - hash.length - 1)}-${hash}`;
  }

  async createQueue(workerName: string): Promise<string> {
    return this.ensureQueue(this.queueName(workerName));
  }

  private async ensureQueue(QueueName: string): Promise<string> {
    try {
      const { QueueUrl } = await this.sqs.send(new CreateQueueCommand({ QueueName, Attributes: WORKER_QUEUE_ATTRIBUTES }));
      if (!QueueUrl) throw new Error(`CreateQueue ${QueueName} returned no URL`);
      return QueueUrl;
    } catch (err) {
      // It exists with other attributes (an older version made it): reuse it, with ours.
      if (!(err instanceof QueueNameExists)) throw err;
      const { QueueUrl } = await this.sqs.send(new GetQueueUrlCommand({ QueueName }));
      if (!QueueUrl) throw new Error(`GetQueueUrl ${QueueName} returned no URL`);
      await this.sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: WORKER_QUEUE_ATTRIBUTES }));
      return QueueUrl;
    }
  }

  async send(queueUrl: string, message: WorkerMessage): Promise<void> {
    try {
      await this.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: workerMessageBody(message) }));
    } catch (err) {
      if (!(err instanceof QueueDoesNotExist)) throw err;
      console.warn(`worker queue ${queueUrl} does not exist (yet): ${message.type} for work request ${message.workRequestId} not delivered`);
    }
  }

  async access(storedQueueUrl: string): Promise<QueueAccess> {
    const { name } = this.parseQueueUrl(storedQueueUrl);
    // Re-created if it vanished; the URL SQS answers is the one to use (the local port may have changed).
    const queueUrl = await this.ensureQueue(name);
    const base: QueueAccess = { queueUrl, region: this.opts.region, ...(this.opts.endpoint ? { endpoint: this.opts.endpoint } : {}) };
    if (!this.opts.roleArn) return base;
    const { Credentials } = await this.opts.sts!.send(
      new AssumeRoleCommand({
        RoleArn: this.opts.roleArn,
        RoleSessionName: sessionName(name),
        DurationSeconds: WORKER_CREDENTIALS_SECONDS,
        Policy: JSON.stringify(workerSessionPolicy(this.queueArn(queueUrl))),
      }),
    );
    if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey) throw new Error('AssumeRole returned no credentials');
    return {
      ...base,
      credentials: {
        accessKeyId: Credentials.AccessKeyId,
        secretAccessKey: Credentials.SecretAccessKey,
        ...(Credentials.SessionToken ? { sessionToken: Credentials.SessionToken } : {}),
        ...(Credentials.Expiration ? { expiration: new Date(Credentials.Expiration).toISOString() } : {}),
      },
    };
  }

  /** `https://sqs.<region>.amazonaws.com/<account>/<name>` → `arn:<partition>:sqs:<region>:<account>:<name>`. */
  queueArn(queueUrl: string): string {
    const { account, name } = this.parseQueueUrl(queueUrl);
    return `arn:${partitionOf(this.opts.region)}:sqs:${this.opts.region}:${account}:${name}`;
  }

  /** The account and name of one of our worker queues; anything else is refused. */
  private parseQueueUrl(queueUrl: string): { account: string; name: string } {
    let segments: string[];
    try {
      segments = new URL(queueUrl).pathname.split('/').filter(Boolean);
    } catch {
      throw new Error(`not a queue URL: ${JSON.stringify(queueUrl)}`);
    }
    const [account, name] = segments;
    if (segments.length !== 2 || !account || !/^\d{12}$/.test(account) || !name || !/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      throw new Error(`not a queue URL: ${JSON.stringify(queueUrl)}`);
    }
    if (!name.startsWith(this.opts.prefix)) throw new Error(`queue ${name} is not a worker queue (prefix ${this.opts.prefix})`);
    return { account, name };
  }
}

/** The inline session policy: the worker's own queue, nothing else. */
export function workerSessionPolicy(queueArn: string) {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: [...WORKER_QUEUE_ACTIONS], Resource: queueArn }],
  };
}

function sessionName(queueName: string): string {
  // RoleSessionName: 2-64 characters of [\w+=,.@-]; queue names are [A-Za-z0-9_-].
  return queueName.slice(0, 64).padEnd(2, '-');
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}
