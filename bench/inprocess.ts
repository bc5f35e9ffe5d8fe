/**
 * The in-process side of the work-request benchmarks: use cases of shared/app/ called directly
 * against the local stack's emulators with counting clients (bench/counters.ts), and one worker
 * registered in-process (enabled with an activation token, connected, AMD64_METADATA).
 *
 * The scheduler and heartbeat queues of these deps point at two "sink" queues that no local
 * poller reads: the events they send are counted and then received and deleted here, the way the
 * Lambda event source would, without the local stack's own scheduler reacting to them (it would
 * assign the requests being measured behind the benchmark's back). The accounting queue is a sink
 * too: the usage events of finished requests are applied by bench/request-accounting.ts, counted.
 */
import { CreateQueueCommand, DeleteMessageBatchCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { createAwsDeps } from '../shared/adapters/aws';
import { generateTokenKey } from '../shared/app/admin';
import { authenticate, type Caller } from '../shared/app/auth';
import { completeWorkRequest, createActivationToken, getNextForWorker, registerWorker, updateDynamicMetadata } from '../shared/app/workers';
import { QUEUES } from '../shared/manifest';
import type { Deps } from '../shared/ports';
import { AMD64_METADATA } from '../test/support/scheduling';
import { createCountingDeps, type CountingDeps } from './capacity';
import { countCommands } from './counters';

export interface InProcessBench {
  env: Record<string, string>;
  /** Counting deps (scheduler, heartbeat and accounting queues → sinks). */
  counting: CountingDeps;
  /** Uncounted deps on the same sinks, for preparation steps. */
  plain: Deps;
  /** An SQS client counted in `counting.sqs`: the receives and deletes of the consumers. */
  sqs: SQSClient;
  /** An uncounted SQS client, for draining. */
  rawSqs: SQSClient;
  sinks: { scheduler: string; heartbeats: string; accounting: string };
  worker: { name: string; key: string; queueUrl: string };
  workerCaller(deps?: Deps): Promise<Extract<Caller, { kind: 'worker' }>>;
}

export async function setUpInProcess(stackEnv: Record<string, string>, actor: string, admin: Deps): Promise<InProcessBench> {
  const region = stackEnv['AWS_REGION'] ?? 'us-east-1';
  const credentials = { accessKeyId: stackEnv['AWS_ACCESS_KEY_ID'] ?? 'local', secretAccessKey: stackEnv['AWS_SECRET_ACCESS_KEY'] ?? 'local' };
  const endpoint = stackEnv['AWS_ENDPOINT_URL_SQS'];
  const rawSqs = new SQSClient({ region, credentials, endpoint });
  const sink = async (name: string): Promise<string> => {
    const { QueueUrl } = await rawSqs.send(new CreateQueueCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error(`no URL for queue ${name}`);
    return QueueUrl;
  };
  const sinks = { scheduler: await sink('bench-scheduler-sink'), heartbeats: await sink('bench-heartbeats-sink'), accounting: await sink('bench-accounting-events-sink') };
  const env = { ...stackEnv, [QUEUES.scheduler.envVar]: sinks.scheduler, [QUEUES.heartbeats.envVar]: sinks.heartbeats, [QUEUES.accounting.envVar]: sinks.accounting };
  const counting = createCountingDeps(env);
  const plain = createAwsDeps({ ...env });
  const sqs = countCommands(new SQSClient({ region, credentials, endpoint }), counting.sqs);

  const { key: activation } = await createActivationToken(admin, actor);
  const key = generateTokenKey();
  const registered = await registerWorker(plain, { tokenKey: key, fqdn: 'bench-inprocess.bench.local', concurrency: 1 }, activation);
  if (!registered.queueUrl) throw new Error('the in-process worker got no queue');
  const workerCaller = async (deps: Deps = plain): Promise<Extract<Caller, { kind: 'worker' }>> => {
    const caller = await authenticate(deps, key);
    if (caller.kind !== 'worker') throw new Error('expected a worker caller');
    return caller;
  };
  await updateDynamicMetadata(plain, await workerCaller(), AMD64_METADATA);
  const bench: InProcessBench = {
    env,
    counting,
    plain,
    sqs,
    rawSqs,
    sinks,
    worker: { name: registered.name, key, queueUrl: registered.queueUrl },
    workerCaller,
  };
  await drainAll(bench);
  return bench;
}

/** One ReceiveMessage for at most one message (local-aws-sqs waits out the poll unless it can fill the batch). */
export async function receiveOne(client: SQSClient, queueUrl: string, waitSeconds = 1): Promise<Message | undefined> {
  const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: waitSeconds }));
  return Messages?.[0];
}

/** What the Lambda event source does with a processed batch: one DeleteMessageBatch. */
export async function deleteBatch(client: SQSClient, queueUrl: string, messages: Message[]): Promise<void> {
  if (messages.length === 0) return;
  await client.send(
    new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }),
  );
}

export async function deleteOne(client: SQSClient, queueUrl: string, message: Message): Promise<void> {
  await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle ?? '' }));
}

/** Empties a queue (uncounted). */
export async function drain(client: SQSClient, queueUrl: string): Promise<number> {
  let n = 0;
  for (;;) {
    const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (!Messages || Messages.length === 0) return n;
    n += Messages.length;
    await deleteBatch(client, queueUrl, Messages);
  }
}

export async function drainAll(bench: InProcessBench): Promise<void> {
  await drain(bench.rawSqs, bench.sinks.scheduler);
  await drain(bench.rawSqs, bench.sinks.heartbeats);
  await drain(bench.rawSqs, bench.sinks.accounting);
  await drain(bench.rawSqs, bench.worker.queueUrl);
}

/** Frees the in-process worker's slot (uncounted): starts and completes whatever is assigned to it. */
export async function freeSlot(bench: InProcessBench): Promise<number[]> {
  const done: number[] = [];
  for (const wr of await bench.plain.workRequests.activeForWorker(bench.worker.name)) {
    if (wr.status !== 'running') continue;
    await completeWorkRequest(bench.plain, await bench.workerCaller(), wr.id, { result: 'success' });
    done.push(wr.id);
  }
  // Only what is already assigned: get-next also pulls new work when nothing is assigned and a slot is
  // free, so looping on it until it answers nothing would run the whole backlog (10,000 requests one by one).
  while ((await bench.plain.workRequests.activeForWorker(bench.worker.name)).some((wr) => wr.status === 'pending')) {
    const caller = await bench.workerCaller();
    const wr = await getNextForWorker(bench.plain, caller, []);
    if (!wr) break;
    await completeWorkRequest(bench.plain, await bench.workerCaller(), wr.id, { result: 'success' });
    done.push(wr.id);
  }
  return done;
}
