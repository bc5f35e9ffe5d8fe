/**
 * DynamoDB reads per assignment against a growing backlog of pending requests. The backlog is
 * written straight into the table (`deps.workRequests.commit({ create })`, 100 requests per
 * transaction, 8 transactions in flight; ids reserved from the work-request sequence in one
 * UpdateItem), not through the API. It is topped up between sizes, so that each row is measured
 * with exactly that many pending `noop` requests in the partition the worker reads
 * (`PENDING#Worker#-#<shard>`). One worker (AMD64_METADATA, concurrency 1) has the only free slot.
 *
 * While the backlog is written the worker is disconnected, so that the local stack's 1-minute
 * scheduler tick cannot take from it; it reconnects just before each measurement.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { performance } from 'node:perf_hooks';
import { keys } from '../shared/adapters/dynamodb/keys';
import { EVENT_PASS, schedule, scheduleForWorker, CANDIDATES_PER_PARTITION } from '../shared/app/scheduler';
import { disconnectWorker, updateDynamicMetadata } from '../shared/app/workers';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import { newWorkRequest, type WorkRequest } from '../shared/domain/work-requests';
import { AMD64_METADATA } from '../test/support/scheduling';
import type { TallySnapshot } from './counters';
import { freeSlot, drainAll, type InProcessBench } from './inprocess';
import { fmt, fmtMs } from './stats';

export interface ReadsAtBacklog {
  backlog: number;
  /** One `scheduleForWorker(deps, worker)`: the assignment itself. */
  assignment: { dynamo: TallySnapshot; ms: number };
  /** One `schedule(deps)` pass with exactly one free slot (what a scheduler invocation does). */
  pass: { dynamo: TallySnapshot; ms: number };
  /** Wall time of writing the requests added for this size. */
  fillMs: number;
  added: number;
}

export interface SchedulerReads {
  rows: ReadsAtBacklog[];
  architectures: string[];
  candidatesPerPartition: number;
  /** Requests written per second while filling (DynamoDB Local). */
  writesPerSecond: number;
  retries: number;
}

const BATCH = 100;
const IN_FLIGHT = 8;

export async function measureSchedulerReads(
  bench: InProcessBench,
  options: { sizes: number[]; workspace: string; createdBy: string; progress: (message: string) => void },
): Promise<SchedulerReads> {
  const { env, plain, counting } = bench;
  const raw = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: env['AWS_REGION'] ?? 'us-east-1',
      endpoint: env['AWS_ENDPOINT_URL_DYNAMODB'],
      credentials: { accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? 'local', secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? 'local' },
    }),
  );
  const mainTable = env['CONVEYOR_TABLE_MAIN'];
  if (!mainTable) throw new Error('CONVEYOR_TABLE_MAIN is not set');

  /** Reserves `n` ids at once: the sequence moves by n in one atomic ADD. */
  const reserveIds = async (n: number): Promise<number> => {
    const res = await raw.send(
      new UpdateCommand({
        TableName: mainTable,
        Key: keys.sequence('work-request'),
        UpdateExpression: 'ADD #value :n',
        ExpressionAttributeNames: { '#value': 'value' },
        ExpressionAttributeValues: { ':n': n },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const last = res.Attributes?.['value'];
    if (typeof last !== 'number') throw new Error('the work-request sequence returned no value');
    return last - n + 1;
  };

  const noop = (id: number, createdAt: string): WorkRequest =>
    newWorkRequest({ id, scope: DEFAULT_SCOPE, workspace: options.workspace, createdBy: options.createdBy, taskType: 'Worker', taskName: 'noop', taskData: { result: true }, createdAt });

  const fill = async (n: number): Promise<number> => {
    if (n <= 0) return 0;
    const started = performance.now();
    const first = await reserveIds(n);
    const createdAt = new Date().toISOString();
    let next = 0;
    let written = 0;
    const writer = async (): Promise<void> => {
      while (next < n) {
        const from = next;
        next = Math.min(n, next + BATCH);
        const batch = Array.from({ length: next - from }, (_, i) => noop(first + from + i, createdAt));
        await plain.workRequests.commit({ create: batch });
        written += batch.length;
        if (n >= 5000 && Math.floor(written / 2500) !== Math.floor((written - batch.length) / 2500)) {
          options.progress(`backlog: ${written}/${n} written (${fmt(written / ((performance.now() - started) / 1000), 0)} requests/s)`);
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, writer));
    return performance.now() - started;
  };

  const reconnect = async (): Promise<void> => {
    await updateDynamicMetadata(plain, await bench.workerCaller(), AMD64_METADATA);
  };
  const disconnect = async (): Promise<void> => {
    await disconnectWorker(plain, await bench.workerCaller());
  };

  let pending = 0;
  let retries = 0;
  let writtenTotal = 0;
  let fillTotalMs = 0;
  const rows: ReadsAtBacklog[] = [];
  for (const size of [...options.sizes].sort((a, b) => a - b)) {
    let fillMs = 0;
    let added = 0;
    /**
     * Frees the worker's slot, disconnects it (freeing it reconnects it: get-next marks the worker
     * seen), tops the backlog up to exactly `size`, reconnects it. Only then is it measured.
     */
    const prepare = async (): Promise<void> => {
      pending -= (await freeSlot(bench)).length;
      await disconnect();
      if (pending < size) {
        const n = size - pending;
        const ms = await fill(n);
        fillMs += ms;
        fillTotalMs += ms;
        added += n;
        writtenTotal += n;
        pending = size;
      }
      await reconnect();
      await drainAll(bench);
    };
    const measureOnce = async <T>(run: () => Promise<T>, check: (result: T) => boolean): Promise<{ dynamo: TallySnapshot; ms: number }> => {
      for (let attempt = 0; ; attempt++) {
        await prepare();
        const before = counting.dynamo.snapshot();
        const t = performance.now();
        const result = await run();
        const ms = performance.now() - t;
        const dynamo = counting.dynamo.since(before);
        pending -= (await freeSlot(bench)).length;
        if (check(result)) return { dynamo, ms };
        if (attempt >= 3) throw new Error(`backlog ${size}: the measured scheduling call did not make exactly one assignment`);
        retries += 1; // the stack's own tick assigned first: try again
      }
    };
    const assignment = await measureOnce(
      async () => scheduleForWorker(counting.deps, (await plain.workers.get(bench.worker.name))!),
      (assigned) => assigned.length === 1 && assigned[0]!.worker === bench.worker.name,
    );
    const pass = await measureOnce(
      () => schedule(counting.deps, EVENT_PASS),
      (summary) => summary.assigned.length === 1 && summary.assigned[0]!.worker === bench.worker.name,
    );
    rows.push({ backlog: size, assignment, pass, fillMs, added });
    options.progress(
      `backlog ${size}: assignment ${Object.values(assignment.dynamo.requests).reduce((a, b) => a + b, 0)} requests, ` +
        `${assignment.dynamo.itemsScanned} items read, ${assignment.dynamo.rcu} RCU, ${assignment.dynamo.wcu} WCU (${fmtMs(assignment.ms)}); ` +
        `full pass ${pass.dynamo.itemsScanned} items, ${pass.dynamo.rcu} RCU (${fmtMs(pass.ms)})`,
    );
  }
  await reconnect();
  await drainAll(bench);
  raw.destroy();
  return {
    rows,
    architectures: [...((AMD64_METADATA['system:architectures'] as string[] | undefined) ?? [])],
    candidatesPerPartition: CANDIDATES_PER_PARTITION,
    writesPerSecond: writtenTotal / (fillTotalMs / 1000),
    retries,
  };
}
