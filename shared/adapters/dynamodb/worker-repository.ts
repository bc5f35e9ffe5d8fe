/**
 * Workers in the main table. The `assigned` slot counter lives on this item but is changed only by
 * DynamoWorkRequestRepository.commit (atomically with the request it concerns); this repository
 * never writes it after the create. The worker listing (gsi1) is an item of its own, written with
 * the worker in one transaction (worker-listing.ts), so that slot writes do not rewrite it.
 * Layout: docs/data-model.md ("Workers").
 */
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand, type TransactWriteCommandInput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { FREE_SLOT_SHARDS, type FreeSlotVerdict, freeSlotOnUpdate } from '../../domain/free-slots';
import { ConflictError } from '../../domain/errors';
import type { Worker } from '../../domain/workers';
import { pickFields } from '../../domain/fields';
import type { WorkerRepository } from '../../ports';
import { attempt, firstFailure, versionedWriteError } from './errors';
import { GSI3, indexKeys, keys } from './keys';
import { freeSlotIndexAttributes } from './slot-writes';
import { compact, type Item, names, queryAll, touchLastSeen, versionedUpdate } from './support';
import { listedWorkerItems, workerListingItem } from './worker-listing';
import { rememberItem } from './worker-holders';

export class DynamoWorkerRepository implements WorkerRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** One transaction: the worker item (if absent) and its listing item. */
  async create(worker: Worker): Promise<void> {
    const item = compact({ ...keys.worker(worker.name), entity: 'worker', name: worker.name, ...workerAttributes(worker), assigned: worker.assigned, version: worker.version });
    const outcome = await this.writeWithListing({ Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names('pk') } }, worker);
    if (!outcome.ok) throw new ConflictError('Worker exists', `a worker named "${worker.name}" already exists`);
  }

  /** A write of the worker item and the Put of its listing item, in one transaction. */
  private writeWithListing(write: TransactItem, worker: Worker) {
    const listing = { Put: { TableName: this.tableName, Item: workerListingItem(worker.name, worker.enabled) } };
    return attempt(() => this.doc.send(new TransactWriteCommand({ TransactItems: [write, listing] })));
  }

  async get(name: string): Promise<Worker | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.worker(name), ConsistentRead: true }));
    return res.Item && toWorker(res.Item);
  }

  /** gsi1 `WORKERS`, by name; the worker items read consistently (worker-listing.ts). */
  async list(): Promise<Worker[]> {
    return this.listIndexed(indexKeys.workers());
  }

  /** gsi1 `WORKERS#DISABLED`: a separate partition, so that the scheduler's query never reads them. */
  async listDisabled(): Promise<Worker[]> {
    return this.listIndexed(indexKeys.disabledWorkers());
  }

  private async listIndexed(partition: string): Promise<Worker[]> {
    const items = await listedWorkerItems(this.doc, this.tableName, partition);
    // Items written before disabled workers moved out of `WORKERS` may still be there.
    return items.map(toWorker).filter((w) => (partition === indexKeys.workers() ? w.enabled : !w.enabled));
  }

  /**
   * One transaction: UpdateItem of the worker item SETting every field but `assigned` (REMOVE the
   * null ones, and a legacy listing key), `version` = expected + 1, conditioned on
   * `attribute_exists(pk) AND version = :expected`, and the Put of its listing item. `assigned` is
   * left alone so that a concurrent slot change (which does not bump the version) is never overwritten.
   */
  async update(worker: Worker, expectedVersion: number): Promise<void> {
    const update = versionedUpdate(workerAttributes(worker), expectedVersion) as VersionedUpdate;
    const outcome = await this.writeWithListing({ Update: { TableName: this.tableName, Key: keys.worker(worker.name), ...update } }, worker);
    if (outcome.ok) return;
    throw versionedWriteError('worker', firstFailure(outcome)?.reason.item, expectedVersion);
  }

  /** gsi3 `FREESLOTS#<shard>`, every shard in parallel (eventually consistent). */
  async withFreeSlots(): Promise<Worker[]> {
    const shards = await Promise.all(
      Array.from({ length: FREE_SLOT_SHARDS }, (_, shard) =>
        queryAll(this.doc, {
          TableName: this.tableName,
          IndexName: GSI3,
          KeyConditionExpression: '#gsi3pk = :pk',
          ExpressionAttributeNames: names('gsi3pk'),
          ExpressionAttributeValues: { ':pk': indexKeys.freeSlots(shard) },
        }),
      ),
    );
    return shards.flat().map(toWorker);
  }

  /**
   * UpdateItem REMOVE gsi3pk, gsi3sk on condition that what made the entry useless still holds:
   * `full`: assigned >= concurrency; `ineligible`: the version read; `stale`: the version and
   * lastSeenAt read (a touch does not bump the version), and it also REMOVEs connectedAt (version + 1).
   */
  async dropFromFreeSlots(worker: Worker, verdict: Exclude<FreeSlotVerdict, 'usable'>): Promise<boolean> {
    const attributeNames = names('pk', 'gsi3pk', 'gsi3sk');
    const values: Record<string, unknown> = {};
    let update = 'REMOVE #gsi3pk, #gsi3sk';
    let condition: string;
    if (verdict === 'full') {
      condition = '#assigned >= #concurrency';
      Object.assign(attributeNames, names('assigned', 'concurrency'));
    } else {
      condition = '#version = :version';
      values[':version'] = worker.version;
      Object.assign(attributeNames, names('version'));
      if (verdict === 'stale') {
        Object.assign(attributeNames, names('lastSeenAt', 'connectedAt'));
        condition += worker.lastSeenAt === null ? ' AND attribute_not_exists(#lastSeenAt)' : ' AND #lastSeenAt = :lastSeenAt';
        if (worker.lastSeenAt !== null) values[':lastSeenAt'] = worker.lastSeenAt;
        values[':next'] = worker.version + 1;
        update = 'SET #version = :next REMOVE #gsi3pk, #gsi3sk, #connectedAt';
      }
    }
    const outcome = await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.worker(worker.name),
          UpdateExpression: update,
          ConditionExpression: `attribute_exists(#pk) AND attribute_exists(#gsi3pk) AND ${condition}`,
          ExpressionAttributeNames: attributeNames,
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
        }),
      ),
    );
    return outcome.ok;
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
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** versionedUpdate always sets both expressions (a transaction's Update requires them). */
type VersionedUpdate = ReturnType<typeof versionedUpdate> & { UpdateExpression: string; ConditionExpression: string };

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
    // The listing key lives on the listing item (worker-listing.ts): removed from a legacy item.
    gsi1pk: undefined,
    gsi1sk: undefined,
    ...freeSlotAttributes(w),
  };
}

/** The free-slot index entry as a versioned write leaves it: set, removed (undefined) or untouched (absent). */
function freeSlotAttributes(w: Worker): { gsi3pk?: string; gsi3sk?: string } {
  const change = freeSlotOnUpdate(w);
  if (change === 'add') return freeSlotIndexAttributes(w.name);
  if (change === 'remove') return { gsi3pk: undefined, gsi3sk: undefined };
  return {};
}

function toWorker(item: Item): Worker {
  return rememberItem({
    name: item.name,
    ...(item.workerId !== undefined ? { id: Number(item.workerId) } : {}),
    ...pickFields(item, ['tokenHash', 'workerType', 'enabled', 'registeredAt']),
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
  }, item);
}
