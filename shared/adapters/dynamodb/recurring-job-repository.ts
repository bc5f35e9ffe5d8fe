/**
 * Recurring jobs in the main table (docs/data-model.md, "Recurring jobs"):
 * - job: `RJOB#<id>` / `J`, the whole job as one map plus `version`; gsi1 `RJOBS#<scope>#<ws>` / `<id16>`
 *   (listing); while its run waits for release, gsi3 `RJDUE#<id % 4>` / `<dateDue>#<id16>` (the due index);
 *   while its run is released and not finished, gsi2 `RJOUT#<id % 4>` / `<releasedAt>#<id16>` (runs out);
 * - results: `RJOB#<id>` / `R#<sequence16>`; events: `RJOB#<id>` / `E#<date>#<version>#<n>`;
 * - machine events: `WORKER#<name>` / `ME#<date>#<random>`.
 * A job write is one TransactWriteItems: the job (conditional on its version), its new result
 * (`attribute_not_exists`) and its events. The due index is sparse: a tick reads due runs only.
 */
import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError } from '../../domain/errors';
import { isReleasedRun, waitsForRelease, type RecurringJob, type RecurringJobEvent, type RecurringJobResult } from '../../domain/recurring-jobs';
import type { Page } from '../../ports';
import type { RecurringJobRepository, RecurringJobWrite } from '../../ports/recurring-jobs';
import { GSI1, GSI2, GSI3, keys, padId, timeKey } from './keys';
import { DynamoMachineEventLog, EVENTS, eventItems, MACHINE_EVENTS } from './machine-event-log';
import { attemptTransaction, checkLimit, compact, decodeCursor, encodeCursor, type Item, names, queryPage, queryShards, versionedPut, deleteIfUnchanged } from './support';

/** Shards of the due index: spreads release writes over four index partitions, read in parallel. */
export const RECURRING_DUE_SHARDS = 4;

const jobPk = (id: number) => `RJOB#${padId(id)}`;
const JOB_SK = 'J';
const RESULTS = 'R#';

export const recurringKeys = {
  job: (id: number) => ({ pk: jobPk(id), sk: JOB_SK }),
  result: (id: number, sequence: number) => ({ pk: jobPk(id), sk: `${RESULTS}${padId(sequence)}` }),
  workspaceJobs: (scope: string, workspace: string) => `RJOBS#${scope}#${workspace}`,
  due: (shard: number) => `RJDUE#${shard}`,
  out: (shard: number) => `RJOUT#${shard}`,
};

/** The index attributes of a job item, derived from its state alone. */
export function recurringJobIndexes(job: RecurringJob): Item {
  const attrs: Item = { gsi1pk: recurringKeys.workspaceJobs(job.scope, job.workspace), gsi1sk: padId(job.id) };
  if (waitsForRelease(job)) {
    attrs.gsi3pk = recurringKeys.due(job.id % RECURRING_DUE_SHARDS);
    attrs.gsi3sk = `${timeKey(job.run!.dateDue, 'dateDue')}#${padId(job.id)}`;
  }
  if (isReleasedRun(job)) {
    attrs.gsi2pk = recurringKeys.out(job.id % RECURRING_DUE_SHARDS);
    attrs.gsi2sk = `${timeKey(job.run!.releasedAt!, 'releasedAt')}#${padId(job.id)}`;
  }
  return attrs;
}

export function jobItem(job: RecurringJob): Item {
  return compact({ ...recurringKeys.job(job.id), entity: 'recurring-job', ...recurringJobIndexes(job), job, version: job.version });
}

export class DynamoRecurringJobRepository implements RecurringJobRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(job: RecurringJob, events: RecurringJobEvent[]): Promise<void> {
    const outcome = await attemptTransaction(this.doc, [
      { Put: { TableName: this.tableName, Item: jobItem(job), ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names('pk') } },
      ...eventItems(jobPk(job.id), events, padId(job.version)).map((Item) => ({ Put: { TableName: this.tableName, Item } })),
    ]);
    if (!outcome.ok) throw new ConflictError('Conflict', `recurring job ${job.id} exists`);
  }

  async get(id: number): Promise<RecurringJob | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: recurringKeys.job(id), ConsistentRead: true }));
    return res.Item ? (res.Item.job as RecurringJob) : undefined;
  }

  async list(scope: string, workspace: string, limit: number, cursor?: string): Promise<Page<RecurringJob>> {
    checkLimit(limit);
    const keyNames = ['pk', 'sk', 'gsi1pk', 'gsi1sk'] as const;
    const found = await queryPage(
      this.doc,
      {
        TableName: this.tableName,
        IndexName: GSI1,
        KeyConditionExpression: '#gsi1pk = :pk',
        ExpressionAttributeNames: names('gsi1pk'),
        ExpressionAttributeValues: { ':pk': recurringKeys.workspaceJobs(scope, workspace) },
      },
      { limit, keyNames, filtered: false, ...(cursor ? { start: decodeCursor(cursor, keyNames) } : {}) },
    );
    return { items: found.items.map((i) => i.job as RecurringJob), ...(found.next ? { next: found.next } : {}) };
  }

  async commit(write: RecurringJobWrite): Promise<void> {
    const { job, expectedVersion } = write;
    const outcome = await attemptTransaction(this.doc, [
      { Put: versionedPut(this.tableName, jobItem(job), expectedVersion) },
      ...(write.result
        ? [
            {
              Put: {
                TableName: this.tableName,
                Item: compact({ ...recurringKeys.result(job.id, write.result.sequence), entity: 'recurring-result', result: write.result }),
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: names('pk'),
              },
            },
          ]
        : []),
      ...eventItems(jobPk(job.id), write.events ?? [], padId(job.version)).map((Item) => ({ Put: { TableName: this.tableName, Item } })),
    ]);
    if (!outcome.ok) {
      const exists = await this.get(job.id);
      if (!exists) throw new NotFoundError('Recurring job not found', `recurring job ${job.id} not found`);
      throw new ConflictError('Conflict', `recurring job ${job.id} changed meanwhile (expected version ${expectedVersion}, found ${exists.version})`);
    }
  }

  async delete(job: RecurringJob): Promise<void> {
    const deleted = await deleteIfUnchanged(this.doc, this.tableName, recurringKeys.job(job.id), { version: job.version });
    if (!deleted) throw new ConflictError('Conflict', `recurring job ${job.id} changed meanwhile`);
  }

  /** One Query per shard of the sparse due index, `gsi3sk <= now`: reads only due runs. */
  async dueRuns(now: string, limit: number): Promise<RecurringJob[]> {
    const jobs = await this.queryShardedIndex(GSI3, recurringKeys.due, timeKey(now, 'now'), limit);
    // The index is eventually consistent: the caller re-checks each job when it writes (version).
    return jobs.filter((j) => waitsForRelease(j));
  }

  /** One Query per shard of the sparse runs-out index, `gsi2sk <= before`. */
  async releasedRuns(before: string, limit: number): Promise<RecurringJob[]> {
    return (await this.queryShardedIndex(GSI2, recurringKeys.out, timeKey(before, 'before'), limit)).filter((j) => isReleasedRun(j));
  }

  /** Jobs of a sparse sharded index (`<index>pk` = `partition(shard)`, `<index>sk` = `<time>#<id16>`) up to `upTo`, oldest first. */
  private async queryShardedIndex(index: typeof GSI2 | typeof GSI3, partition: (shard: number) => string, upTo: string, limit: number): Promise<RecurringJob[]> {
    const pk = `${index}pk`;
    const sk = `${index}sk`;
    const inputs = Array.from({ length: RECURRING_DUE_SHARDS }, (_, shard) => ({
      TableName: this.tableName,
      IndexName: index,
      KeyConditionExpression: `#${pk} = :pk AND #${sk} <= :upTo`,
      ExpressionAttributeNames: names(pk, sk),
      ExpressionAttributeValues: { ':pk': partition(shard), ':upTo': `${upTo}#~` },
    }));
    return (await queryShards(this.doc, inputs, sk, limit)).map((i) => i.job as RecurringJob);
  }

  async results(jobId: number, limit: number, cursor?: string): Promise<Page<RecurringJobResult>> {
    const found = await this.partitionPage(jobPk(jobId), RESULTS, limit, cursor, false);
    return { items: found.items.map((i) => i.result as RecurringJobResult), ...(found.next ? { next: found.next } : {}) };
  }

  async events(jobId: number, limit: number, cursor?: string): Promise<Page<RecurringJobEvent>> {
    const found = await this.partitionPage(jobPk(jobId), EVENTS, limit, cursor, true);
    return { items: found.items.map((i) => i.event as RecurringJobEvent), ...(found.next ? { next: found.next } : {}) };
  }

  async appendMachineEvents(machine: string, events: RecurringJobEvent[]): Promise<void> {
    await new DynamoMachineEventLog(this.doc, this.tableName).appendMachineEvents(machine, events);
  }

  async machineEvents(machine: string, limit: number, cursor?: string): Promise<Page<RecurringJobEvent>> {
    const found = await this.partitionPage(keys.worker(machine).pk, MACHINE_EVENTS, limit, cursor, true);
    return { items: found.items.map((i) => i.event as RecurringJobEvent), ...(found.next ? { next: found.next } : {}) };
  }

  private async partitionPage(pk: string, prefix: string, limit: number, cursor: string | undefined, forward: boolean) {
    checkLimit(limit);
    const keyNames = ['pk', 'sk'] as const;
    return queryPage(
      this.doc,
      {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: names('pk', 'sk'),
        ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
        ScanIndexForward: forward,
      },
      { limit, keyNames, filtered: false, ...(cursor ? { start: decodeCursor(cursor, keyNames) } : {}) },
    );
  }
}

