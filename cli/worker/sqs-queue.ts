/**
 * The SQS side of the worker's queue (loaded only by `conveyor worker`: the AWS SDK is slow to
 * load). Credentials come from GET worker/queue/ and are fetched again before they expire.
 */
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { WireQueueAccess } from '../client/wire';
import type { QueueMessage, WorkerQueue } from './queue';

/** Credentials from the local stack (no STS): the emulator accepts anything. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Refresh temporary credentials this long before they expire. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

export function sqsClientConfig(access: WireQueueAccess): SQSClientConfig {
  const c = access.credentials;
  return {
    region: access.region,
    ...(access.endpoint ? { endpoint: access.endpoint } : {}),
    credentials: c
      ? { accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key, ...(c.session_token ? { sessionToken: c.session_token } : {}) }
      : LOCAL_CREDENTIALS,
  };
}

export class SqsWorkerQueue implements WorkerQueue {
  private client: SQSClient | undefined;
  private access: WireQueueAccess | undefined;

  constructor(
    /** GET worker/queue/: called at start and again before the credentials expire. */
    private readonly fetchAccess: () => Promise<WireQueueAccess>,
    private readonly now: () => number = () => Date.now(),
    private readonly makeClient: (config: SQSClientConfig) => SQSClient = (config) => new SQSClient(config),
  ) {}

  private expiringSoon(): boolean {
    const expiration = this.access?.credentials?.expiration;
    return Boolean(expiration) && Date.parse(expiration!) - REFRESH_MARGIN_MS <= this.now();
  }

  private async ready(): Promise<{ client: SQSClient; queueUrl: string }> {
    if (!this.client || !this.access || this.expiringSoon()) {
      const access = await this.fetchAccess();
      this.client?.destroy();
      this.access = access;
      this.client = this.makeClient(sqsClientConfig(access));
    }
    return { client: this.client, queueUrl: this.access.queue_url };
  }

  async receive(signal: AbortSignal): Promise<QueueMessage[]> {
    const { client, queueUrl } = await this.ready();
    try {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          // One at a time: local-aws-sqs waits the whole poll unless it can fill the batch.
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: 20,
          // local-aws-sqs ignores MessageSystemAttributeNames; `AttributeNames` works on both.
          AttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
      return (out.Messages ?? []).flatMap((m) => (m.Body !== undefined && m.ReceiptHandle ? [{ body: m.Body, receiptHandle: m.ReceiptHandle }] : []));
    } catch (err) {
      // Any failure but our own stop asks the server for the channel again next time: expired
      // credentials, and also a queue that is gone or an endpoint that moved (the local stack
      // restarted, the queue was deleted): the server re-creates the queue when asked (finding 8).
      if (!signal.aborted) this.access = undefined;
      throw err;
    }
  }

  async delete(message: QueueMessage): Promise<void> {
    const { client, queueUrl } = await this.ready();
    await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.receiptHandle }));
  }

  close(): void {
    this.client?.destroy();
    this.client = undefined;
  }
}
