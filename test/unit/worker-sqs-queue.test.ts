import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { WireQueueAccess } from '../../cli/client/wire';
import { SqsWorkerQueue, sqsClientConfig } from '../../cli/worker/sqs-queue';

class FakeSqs {
  sent: { command: unknown; abortSignal?: AbortSignal }[] = [];
  destroyed = false;
  failNext: Error | undefined;
  constructor(readonly config: SQSClientConfig) {}
  async send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> {
    this.sent.push({ command, abortSignal: options?.abortSignal });
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    if (command instanceof ReceiveMessageCommand) return { Messages: [{ Body: '{"type":"abort","work_request_id":1}', ReceiptHandle: 'rh1' }, { ReceiptHandle: 'no-body' }] };
    return {};
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** A client factory that keeps every FakeSqs it makes in `clients`. */
const recordingClients = (clients: FakeSqs[]) => (config: SQSClientConfig) => {
  const c = new FakeSqs(config);
  clients.push(c);
  return c as unknown as SQSClient;
};

describe('the worker SQS queue', () => {
  const local: WireQueueAccess = { queue_url: 'http://127.0.0.1:9324/000000000000/conveyor-worker-a', region: 'us-east-1', endpoint: 'http://127.0.0.1:9324' };
  const aws = (expiration: string, n: number): WireQueueAccess => ({
    queue_url: 'https://sqs.eu-west-1.amazonaws.com/1/conveyor-worker-a',
    region: 'eu-west-1',
    credentials: { access_key_id: `AK${n}`, secret_access_key: `SK${n}`, session_token: `ST${n}`, expiration },
  });

  it('uses dummy credentials and the endpoint of the local stack', () => {
    expect(sqsClientConfig(local)).toEqual({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9324', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    expect(sqsClientConfig(aws('2030-01-01T00:00:00Z', 1))).toEqual({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AK1', secretAccessKey: 'SK1', sessionToken: 'ST1' },
    });
  });

  it('long-polls for 20 s, returns the messages, deletes by receipt handle', async () => {
    const clients: FakeSqs[] = [];
    const queue = new SqsWorkerQueue(async () => local, () => 0, (config) => {
      const c = new FakeSqs(config);
      clients.push(c);
      return c as unknown as SQSClient;
    });
    const abort = new AbortController();
    await expect(queue.receive(abort.signal)).resolves.toEqual([{ body: '{"type":"abort","work_request_id":1}', receiptHandle: 'rh1' }]);
    const receive = clients[0]!.sent[0]!;
    expect(receive.command).toBeInstanceOf(ReceiveMessageCommand);
    expect((receive.command as ReceiveMessageCommand).input).toMatchObject({ QueueUrl: local.queue_url, WaitTimeSeconds: 20, AttributeNames: ['All'] });
    expect(receive.abortSignal).toBe(abort.signal);
    await queue.delete({ body: '', receiptHandle: 'rh1' });
    const del = clients[0]!.sent[1]!.command as DeleteMessageCommand;
    expect(del).toBeInstanceOf(DeleteMessageCommand);
    expect(del.input).toEqual({ QueueUrl: local.queue_url, ReceiptHandle: 'rh1' });
    expect(clients).toHaveLength(1);
  });

  it('fetches new credentials before they expire, and after an expired-token error', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    let fetched = 0;
    const clients: FakeSqs[] = [];
    const queue = new SqsWorkerQueue(
      async () => aws(new Date(now + 60 * 60 * 1000).toISOString(), ++fetched),
      () => now,
      recordingClients(clients),
    );
    const signal = new AbortController().signal;
    await queue.receive(signal);
    now += 50 * 60 * 1000; // 10 minutes left: still fine
    await queue.receive(signal);
    expect(fetched).toBe(1);
    now += 6 * 60 * 1000; // 4 minutes left: refresh
    await queue.receive(signal);
    expect(fetched).toBe(2);
    expect(clients[0]!.destroyed).toBe(true);
    expect(clients[1]!.config.credentials).toEqual({ accessKeyId: 'AK2', secretAccessKey: 'SK2', sessionToken: 'ST2' });

    clients[1]!.failNext = Object.assign(new Error('expired'), { name: 'ExpiredToken' });
    await expect(queue.receive(signal)).rejects.toThrow('expired');
    await queue.receive(signal);
    expect(fetched).toBe(3);
  });

  it('asks the server for its channel again after the queue failed it (a restarted stack, a lost queue: finding 8)', async () => {
    let fetched = 0;
    const clients: FakeSqs[] = [];
    const endpoints = ['http://127.0.0.1:9324', 'http://127.0.0.1:9555'];
    const queue = new SqsWorkerQueue(async () => ({ ...local, endpoint: endpoints[fetched++]! }), () => 0, recordingClients(clients));
    const signal = new AbortController().signal;
    await queue.receive(signal);
    clients[0]!.failNext = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9324'), { code: 'ECONNREFUSED' });
    await expect(queue.receive(signal)).rejects.toThrow('ECONNREFUSED');
    await queue.receive(signal);
    expect(fetched).toBe(2);
    expect(clients[1]!.config.endpoint).toBe('http://127.0.0.1:9555');
    // Our own stop is not a failure of the queue.
    const stop = new AbortController();
    stop.abort();
    clients[1]!.failNext = new Error('aborted');
    await expect(queue.receive(stop.signal)).rejects.toThrow('aborted');
    await queue.receive(signal);
    expect(fetched).toBe(2);
  });
});
