/**
 * Workers in the main table. The `assigned` slot counter lives on this item but is changed only by
 * DynamoWorkRequestRepository.commit (atomically with the request it concerns); this repository
 * never writes it after the create. Layout: docs/data-model.md ("Workers").
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '../../domain/errors';
import type { Worker } from '../../domain/workers';
import type { WorkerRepository } from '../../ports';
import { attempt } from './errors';
import { GSI1, indexKeys, keys } from './keys';
import { compact, type Item, names, queryAll, touchLastSeen, updateVersioned } from './support';

export class DynamoWorkerRepository implements WorkerRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(worker: Worker): Promise<void> {
    const outcome = await attempt(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: compact({
            ...keys.worker(worker.name),
            entity: 'worker',
            name: worker.name,
            ...workerAttributes(worker),
            assigned: worker.assigned,
            version: worker.version,
          }),
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: names('pk'),
        }),
      ),
    );
    if (!outcome.ok) throw new ConflictError('Worker exists', `a worker named "${worker.name}" already exists`);
  }

  async get(name: string): Promise<Worker | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.worker(name), ConsistentRead: true }));
    return res.Item && toWorker(res.Item);
  }

  /** gsi1 `WORKERS`, by name (eventually consistent: `assigned` may lag; the slot conditions do not). */
  async list(): Promise<Worker[]> {
    return this.listIndexed(indexKeys.workers());
  }

  /** gsi1 `WORKERS#DISABLED`: a separate partition, so that the scheduler's query never reads them. */
  async listDisabled(): Promise<Worker[]> {
    return this.listIndexed(indexKeys.disabledWorkers());
  }

  private async listIndexed(partition: string): Promise<Worker[]> {
    const items = await queryAll(this.doc, {
      TableName: this.tableName,
      IndexName: GSI1,
      KeyConditionExpression: '#gsi1pk = :pk',
      ExpressionAttributeNames: names('gsi1pk'),
      ExpressionAttributeValues: { ':pk': partition },
    });
    // Items written before disabled workers moved out of `WORKERS` may still be there.
    return items.map(toWorker).filter((w) => (partition === indexKeys.workers() ? w.enabled : !w.enabled));
  }

  /**
   * UpdateItem: SET every field but `assigned` (REMOVE the null ones), `version` = expected + 1,
   * conditioned on `attribute_exists(pk) AND version = :expected`. `assigned` is left alone so that
   * a concurrent slot change (which does not bump the version) is never overwritten.
   */
  async update(worker: Worker, expectedVersion: number): Promise<void> {
    await updateVersioned(this.doc, this.tableName, keys.worker(worker.name), 'worker', workerAttributes(worker), expectedVersion);
  }

  /** Like touchToken: SET lastSeenAt unless it is younger than `minIntervalMs`; no version bump. */
  async touch(name: string, at: Date, minIntervalMs: number): Promise<void> {
    await touchLastSeen(this.doc, this.tableName, keys.worker(name), at, minIntervalMs);
  }
}

/**
 * Every stored field that `update` writes (all but the key, `assigned` and `version`); undefined
 * means null (not stored). Metadata are JSON text: workers report arbitrary JSON.
 */
function workerAttributes(w: Worker): Record<string, unknown> {
  return {
    tokenHash: w.tokenHash,
    // Never removed once given (Debusine's integer id is permanent), so only written when known.
    ...(w.id !== undefined ? { workerId: w.id } : {}),
    workerType: w.workerType,
    enabled: w.enabled,
    registeredAt: w.registeredAt,
    connectedAt: w.connectedAt ?? undefined,
    lastSeenAt: w.lastSeenAt ?? undefined,
    staticMetadataJson: JSON.stringify(w.staticMetadata ?? {}),
    dynamicMetadataJson: JSON.stringify(w.dynamicMetadata ?? {}),
    dynamicMetadataUpdatedAt: w.dynamicMetadataUpdatedAt ?? undefined,
    concurrency: w.concurrency,
    queueUrl: w.queueUrl ?? undefined,
    machineState: w.machineState ?? undefined,
    offlineReason: w.offlineReason ?? undefined,
    gsi1pk: w.enabled ? indexKeys.workers() : indexKeys.disabledWorkers(),
    gsi1sk: w.name,
  };
}

function toWorker(item: Item): Worker {
  return {
    name: item.name,
    ...(item.workerId !== undefined ? { id: Number(item.workerId) } : {}),
    tokenHash: item.tokenHash,
    workerType: item.workerType,
    enabled: item.enabled,
    registeredAt: item.registeredAt,
    connectedAt: item.connectedAt ?? null,
    lastSeenAt: item.lastSeenAt ?? null,
    staticMetadata: JSON.parse(item.staticMetadataJson ?? '{}'),
    dynamicMetadata: JSON.parse(item.dynamicMetadataJson ?? '{}'),
    dynamicMetadataUpdatedAt: item.dynamicMetadataUpdatedAt ?? null,
    concurrency: Number(item.concurrency),
    assigned: Number(item.assigned ?? 0),
    queueUrl: item.queueUrl ?? null,
    version: Number(item.version),
    ...(item.machineState ? { machineState: item.machineState, offlineReason: item.offlineReason ?? null } : {}),
  };
}
