/**
 * Quota accounting of a finished noop request, for section 7 (issue 12's cost, told whole): the
 * completion sends one usage event to the accounting queue (that SendMessage is already counted in
 * the completion step); the accountant Lambda receives it, applies it (`applyAccountingEvents`, run
 * here in-process with the counting clients, as section 7 runs the other steps) and deletes it.
 *
 * - **idle**: the usage event of each request measured in section 7, alone: one event per invocation,
 *   one ReceiveMessage and one DeleteMessageBatch for it (the most expensive case);
 * - **batched**: under load the accountant's event source waits up to its window for up to 100 events
 *   (shared/manifest.ts); measured with 10 finished requests of 2 users in one workspace, one message
 *   each as completions send them, received and applied as one batch.
 *
 * The accounting queue of the in-process deps is a sink (bench/inprocess.ts): the stack's own
 * accountant never sees these events, so what is measured is the first application, not a replay.
 * Lambda compute is the in-process time of the apply (on this shared machine: an estimate, inflated
 * by load), rounded up to the ms, at the accountant's memory.
 */
import { ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { performance } from 'node:perf_hooks';
import { parseAccountingMessage } from '../shared/adapters/sqs/accounting-queue';
import { applyAccountingEvents, workRequestEvent } from '../shared/app/accounting';
import { createUser } from '../shared/app/admin';
import { FUNCTIONS } from '../shared/manifest';
import type { AccountingEvent } from '../shared/ports';
import { storeFinishedRequest } from '../test/support/accounting';
import { averageSnapshots, failedConditionalWrites } from './capacity';
import { PRICES } from './cost';
import { totalRequests, type TallySnapshot } from './counters';
import { deleteBatch, receiveOne, type InProcessBench } from './inprocess';
import { fmt, fmtUsd, mean } from './stats';

/** One accountant invocation: the events it applied and what it cost in all. */
export interface AccountingRun {
  events: number;
  users: number;
  dynamo: TallySnapshot;
  /** The event source's ReceiveMessage and DeleteMessageBatch (the completion's SendMessage is in section 7). */
  sqs: TallySnapshot;
  handlerMs: number;
}

export interface RequestAccounting {
  /** Averaged over section 7's repetitions. */
  idle: AccountingRun;
  batched: AccountingRun;
}

const ACCOUNTANT = FUNCTIONS.find((f) => f.name === 'accountant');
export const ACCOUNTANT_MEMORY_MB = ACCOUNTANT?.memoryMb ?? 512;
export const BATCH = { users: 2, perUser: 5 } as const;

async function accountantInvocation(bench: InProcessBench, messages: () => Promise<Message[]>, users: number): Promise<{ run: AccountingRun; events: AccountingEvent[] }> {
  const { counting } = bench;
  const before = { dynamo: counting.dynamo.snapshot(), sqs: counting.sqs.snapshot() };
  const received = await messages();
  const events = received.flatMap((m) => parseAccountingMessage(m.Body ?? ''));
  const started = performance.now();
  await applyAccountingEvents(counting.deps, events);
  const handlerMs = performance.now() - started;
  await deleteBatch(bench.sqs, bench.sinks.accounting, received);
  return {
    run: { events: events.length, users, dynamo: counting.dynamo.since(before.dynamo), sqs: counting.sqs.since(before.sqs), handlerMs },
    events,
  };
}

/** The accountant applying the usage event the completion of `workRequestId` sent (idle: alone). */
export async function accountUsageEventOf(bench: InProcessBench, workRequestId: number): Promise<AccountingRun> {
  const { run, events } = await accountantInvocation(
    bench,
    async () => {
      const message = await receiveOne(bench.sqs, bench.sinks.accounting);
      if (!message) throw new Error(`the completion of ${workRequestId} sent no usage event`);
      return [message];
    },
    1,
  );
  if (!events.some((e) => e.source.kind === 'work-request' && e.source.id === workRequestId)) throw new Error(`the usage event received is not that of ${workRequestId}`);
  return run;
}

/** Under load: BATCH.users × BATCH.perUser finished requests of one workspace, accounted in one invocation. */
export async function accountBatch(bench: InProcessBench, options: { workspace: string; actor: string }): Promise<AccountingRun> {
  const tag = Math.random().toString(36).slice(2, 8);
  const firstId = 980_000_000 + Math.floor(Math.random() * 100_000) * 100;
  const users = Array.from({ length: BATCH.users }, (_, i) => `acct-batch-${tag}-${i}`);
  for (const username of users) await createUser(bench.plain, options.actor, { username });
  let n = 0;
  for (const username of users) {
    for (let i = 0; i < BATCH.perUser; i++) {
      const wr = await storeFinishedRequest(bench.plain, firstId + n++, username, 40 + i, options.workspace);
      await bench.plain.accountingQueue.enqueue([workRequestEvent(wr)]);
    }
  }
  const { run } = await accountantInvocation(
    bench,
    async () => {
      const received: Message[] = [];
      for (let polls = 0; received.length < n; polls++) {
        const { Messages } = await bench.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: bench.sinks.accounting, MaxNumberOfMessages: Math.min(10, n - received.length), WaitTimeSeconds: 1 }),
        );
        received.push(...(Messages ?? []));
        if (!Messages?.length && polls > 5) throw new Error(`only ${received.length} of ${n} usage events arrived`);
      }
      return received;
    },
    BATCH.users,
  );
  return run;
}

export function averageRuns(runs: AccountingRun[]): AccountingRun {
  return {
    events: mean(runs.map((r) => r.events)),
    users: mean(runs.map((r) => r.users)),
    dynamo: averageSnapshots(runs.map((r) => r.dynamo)),
    sqs: averageSnapshots(runs.map((r) => r.sqs)),
    handlerMs: mean(runs.map((r) => r.handlerMs)),
  };
}

/** Per event, at list prices. */
export interface AccountingCostPerEvent {
  requests: number;
  rru: number;
  wru: number;
  sqsRequests: number;
  invocations: number;
  gbSeconds: number;
  /** The Lambda compute part of perMillion: the one figure here that comes from a time, not a count. */
  computePerMillion: number;
  perMillion: number;
}

export function accountingCostPerEvent(run: AccountingRun): AccountingCostPerEvent {
  const per = (x: number) => x / run.events;
  const invocations = per(1);
  const gbSeconds = invocations * (Math.ceil(run.handlerMs) / 1000) * (ACCOUNTANT_MEMORY_MB / 1024);
  const rru = per(run.dynamo.rcuBilled);
  const wru = per(run.dynamo.wcu + failedConditionalWrites(run.dynamo));
  const sqsRequests = per(totalRequests(run.sqs));
  const computePerMillion = gbSeconds * 1e6 * PRICES.lambdaGbSecond;
  const perMillion =
    invocations * PRICES.lambdaRequestsPerMillion +
    computePerMillion +
    wru * PRICES.dynamoWriteRequestUnitPerMillion +
    rru * PRICES.dynamoReadRequestUnitPerMillion +
    sqsRequests * PRICES.sqsStandardPerMillion;
  return { requests: per(totalRequests(run.dynamo)), rru, wru, sqsRequests, invocations, gbSeconds, computePerMillion, perMillion };
}

const n2 = (n: number) => (Number.isInteger(n) ? String(n) : fmt(n, 2));

/** Section 7's rows for quota accounting and the total with it, beside the request-life total. */
export function renderRequestAccounting(accounting: RequestAccounting, requestLifePerMillion: number): string {
  const idle = accountingCostPerEvent(accounting.idle);
  const batched = accountingCostPerEvent(accounting.batched);
  const row = (label: string, run: AccountingRun, c: AccountingCostPerEvent) => [
    label,
    n2(run.events),
    n2(c.requests),
    n2(c.rru),
    n2(c.wru),
    n2(c.sqsRequests),
    n2(c.invocations),
    `${fmt(c.gbSeconds, 5)} (${fmt(run.handlerMs, 1)} ms)`,
    `${fmtUsd(c.perMillion)} (${fmtUsd(c.perMillion - c.computePerMillion)})`,
  ];
  const lines = [
    '**Quota accounting of the finished request** (accountant Lambda, bench/request-accounting.ts). The completion\'s usage event ' +
      '(its SendMessage is in the completion step above) is applied by the accountant: in-process with the counting clients, as the steps ' +
      'above; the accounting queue of these deps is a sink the benchmark receives from and deletes from itself, so the stack\'s own ' +
      'accountant never applies it first. Per finished request:',
    '',
    '| quota accounting of the finished request | events per invocation | DynamoDB requests | RRU billed | WRU (incl. failed conditional writes) | SQS requests (receive + delete) | Lambda invocations | Lambda GB-s (apply time, inflated by load) | $ per million (without Lambda compute: from counts only) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${row('idle: the request\'s own event, alone in its invocation', accounting.idle, idle).join(' | ')} |`,
    `| ${row(`under load: ${accounting.batched.events} finished requests of ${accounting.batched.users} users in one batch`, accounting.batched, batched).join(' | ')} |`,
    '',
    `| one noop request | $ per million |`,
    '| --- | ---: |',
    `| request life (the total above, as issue 12 measures it) | ${fmtUsd(requestLifePerMillion)} |`,
    `| **with quota accounting, idle** (one event per accountant invocation) | **${fmtUsd(requestLifePerMillion + idle.perMillion)}** |`,
    `| **with quota accounting, under load** (batched as above) | **${fmtUsd(requestLifePerMillion + batched.perMillion)}** |`,
    '',
    'The request-life total stays computed as before: issue 12\'s target ($25 per million) was set before quota accounting existed. ' +
      'The accountant writes, per usage item a batch touches (the workspace\'s, each user\'s), one transaction with every changed ' +
      'contribution (each conditional on its version: what keeps a replayed event from counting twice) and the summed change of `used`; ' +
      `its event source waits up to ${ACCOUNTANT?.queue?.maxBatchingWindowSeconds ?? '?'} s or ${ACCOUNTANT?.queue?.batchSize ?? '?'} events ` +
      '(shared/manifest.ts). Times in this table are in-process apply times on a shared machine: the counts are exact, the GB-s are an estimate.',
  ];
  return lines.join('\n');
}
