/**
 * Work requests, their reverse-dependency links, the child links of workflows and the worker slot
 * counters they move, in the main table. Layout, index derivation and access patterns:
 * docs/data-model.md ("Work requests").
 *
 * Child links: a created request whose `parent` is set gets `WR#<parent>` / `CHILD#<id16>`
 * (`entity: workflowChild`, `parent`, `child`) in the same transaction, so a workflow's children are
 * one consistent Query of its own partition (`CHILD#` < `RDEP#` < `W`), never an index read that may
 * lag behind. The link is never removed: superseded children stay children (Debusine keeps them).
 */
import {
  PutCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, ValidationError, WORK_REQUEST_CHANGED } from '../../domain/errors';
import { effectivePriority, type TaskType, type WorkRequest, type WorkflowRun } from '../../domain/work-requests';
import { RUN_STATUSES } from '../../domain/run-status';
import { rootExpiryIndexAttributes } from './work-request-expiry-keys';
import { childProgressDeltas } from '../../domain/child-progress';
import type { CandidatePartitions, ChildProgress, HeartbeatMessage, Page, PendingBatch, WorkRequestChanges, WorkRequestListFilter, WorkRequestRepository } from '../../ports';
import { attempt, firstFailure, type RawItem, rawNumber } from './errors';
import { writeInputPins } from './expiry-pins';
import { CandidateMarkers, COMMIT_WINDOW_MS, DEFAULT_INDEX_LAG_MS, MarkerBatch, MarkerSnapshot, markerKeyOfIndex, markerKeysOf } from './candidate-markers';
import { giveBackSlot, takeSlot } from './slot-writes';
import { activeFromHolders } from './worker-holders';
import type { Worker } from '../../domain/workers';
import { listingCursorAfter, listWorkRequestItems } from './work-request-listing';
import { releaseOrphanedSlots, writeInTwoSteps, writtenInTwoSteps } from './plain-slot-commit';
import {
  GSI3,
  REVERSE_DEPENDENCIES,
  WORK_REQUEST_SHARDS,
  indexKeys,
  keys,
  padId,
  timeKey,
  workRequestPk,
  workRequestShard,
} from './keys';
import { batchGet, checkLimit, compact, decodeCursor, encodeCursor, type Item, names, queryPage, queryPartition, queryShards, versionedPut } from './support';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Sort-key prefix of the child links in a workflow's partition. */
export const CHILDREN = 'CHILD#';

/** The link parent → child, in the parent's partition. */
export function childLinkKey(parent: number, child: number): { pk: string; sk: string } {
  return { pk: workRequestPk(parent), sk: `${CHILDREN}${padId(child)}` };
}

/** A workflow's child counts, in its own partition (`CHILD#` < `PROGRESS` < `RDEP#` < `W`): the workflow item is Put whole, which would drop counts kept on it. */
export function childProgressKey(workflow: number): { pk: string; sk: string } {
  return { pk: workRequestPk(workflow), sk: 'PROGRESS' };
}

/** TransactWriteItems takes at most 100 items (a created child counts twice: request and link); a commit is never split (it must stay atomic). */
export const MAX_COMMIT_ITEMS = 100;

/**
 * Task types the scheduler picks from the pending index. A Workflow is there only as a root: the
 * scheduler starts pending roots and hands them to the orchestrator, which runs sub-workflows inline.
 */
export const SCHEDULED_TASK_TYPES: readonly TaskType[] = ['Worker', 'Server', 'Signing', 'Internal', 'Wait', 'Workflow'];

/** Whether a pending, unassigned request belongs in the pending index (sub-workflows do not). */
function scheduledByIndex(wr: Pick<WorkRequest, 'taskType' | 'parent'>): boolean {
  return SCHEDULED_TASK_TYPES.includes(wr.taskType) && (wr.taskType !== 'Workflow' || wr.parent === null);
}

/** The pending sort key stores `PRIORITY_BASE - priority`, so that ascending order is highest priority first. */
const PRIORITY_BASE = 1_000_000_000;

/** The index attributes of a work request item; absent ones are not stored (the item leaves that index). */
export interface WorkRequestIndexAttributes {
  gsi4pk: string;
  gsi4sk: string;
  gsi2pk?: string;
  gsi2sk?: string;
  gsi3pk?: string;
  gsi3sk?: string;
}

/**
 * Every index attribute of a work request, derived from its state alone. Called on every write of
 * the item (create and update Put the whole item), so the indexes can never disagree with the state:
 * - gsi4 (listing, projecting `workspace` and `taskName` only): `WRS#<scope>` / `<createdAt>#<id16>`, always.
 * - gsi2: none. A worker's active requests are read from its slot holders (worker-holders.ts); a
 *   legacy `WORKERWR#<worker>` key written by older code goes at the request's next Put.
 * - gsi3 (scheduling), at most one of:
 *   - pending, unassigned, scheduled task type (a Workflow only as a root): `PENDING#<taskType>#<arch or ->#<id % 4>` /
 *     `<1e9 − effective priority, 10 digits>#<createdAt>#<id16>`;
 *   - running Worker task: `RUNNING#<id % 4>` / `<heartbeatAt ?? startedAt ?? createdAt>#<id16>`;
 *   - running Wait task with a valid `task_data.delay_until`: `WAIT#<id % 4>` / `<delay_until>#<id16>`;
 *   - running Workflow: `WFRUNNING#<id % 4>` / `<startedAt ?? createdAt>#<id16>` (the watchdog's reconcile sweep);
 *   - finished root: `WREXP#<id % 4>` / `<completedAt>#<id16>` (the work-request expiry index, work-request-expiry-keys.ts).
 */
export function workRequestIndexes(wr: WorkRequest): WorkRequestIndexAttributes {
  const id16 = padId(wr.id);
  const shard = workRequestShard(wr.id);
  const createdAt = timeKey(wr.createdAt, 'createdAt');
  const attrs: WorkRequestIndexAttributes = { gsi4pk: indexKeys.scopeWorkRequests(wr.scope), gsi4sk: `${createdAt}#${id16}` };
  if (wr.status === 'pending' && wr.worker === null && scheduledByIndex(wr)) {
    attrs.gsi3pk = indexKeys.pending(wr.taskType, wr.hostArchitecture, shard);
    attrs.gsi3sk = `${priorityKey(effectivePriority(wr))}#${createdAt}#${id16}`;
  } else if (wr.status === 'running' && wr.taskType === 'Worker') {
    attrs.gsi3pk = indexKeys.running(shard);
    attrs.gsi3sk = runningSortKey(wr.id, wr.heartbeatAt ?? wr.startedAt ?? wr.createdAt);
  } else if (wr.status === 'running' && wr.taskType === 'Workflow') {
    attrs.gsi3pk = indexKeys.runningWorkflows(shard);
    attrs.gsi3sk = runningSortKey(wr.id, wr.startedAt ?? wr.createdAt);
  } else if (wr.status === 'running' && wr.taskType === 'Wait') {
    const due = delayUntil(wr.taskData);
    if (due !== undefined) {
      attrs.gsi3pk = indexKeys.waiting(shard);
      attrs.gsi3sk = `${due}#${id16}`;
    }
  } else {
    // A finished root enters the work-request expiry index in the write that finishes it.
    Object.assign(attrs, rootExpiryIndexAttributes(wr));
  }
  return attrs;
}

/** `1e9 − priority`, zero-padded to 10 digits: ascending order is descending priority. */
export function priorityKey(priority: number): string {
  if (!Number.isSafeInteger(priority) || Math.abs(priority) >= PRIORITY_BASE) {
    throw ValidationError.field('priority', `effective priority must be an integer strictly between -${PRIORITY_BASE} and ${PRIORITY_BASE}`);
  }
  return String(PRIORITY_BASE - priority).padStart(10, '0');
}

function runningSortKey(id: number, lastSignOfLife: string): string {
  return `${timeKey(lastSignOfLife, 'heartbeatAt')}#${padId(id)}`;
}

/** `task_data.delay_until` in canonical ISO form, or undefined when missing or not a date. */
function delayUntil(taskData: Record<string, unknown>): string | undefined {
  const value = taskData['delay_until'];
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export class DynamoWorkRequestRepository implements WorkRequestRepository {
  private readonly markers: CandidateMarkers;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    indexLagMs: number = DEFAULT_INDEX_LAG_MS,
    /** How long a commit may take before the marker sets sent alongside it are repeated (candidate-markers.ts). */
    private readonly commitWindowMs: number = COMMIT_WINDOW_MS,
  ) {
    this.markers = new CandidateMarkers(doc, tableName, indexLagMs);
  }

  async get(id: number): Promise<WorkRequest | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.workRequest(id), ConsistentRead: true }));
    return res.Item && toWorkRequest(res.Item);
  }

  /** BatchGetItem, consistent; in the order asked (a repeated id is returned again), missing ones skipped. */
  async getMany(ids: number[]): Promise<WorkRequest[]> {
    if (ids.length === 0) return [];
    const items = await batchGet(
      this.doc,
      this.tableName,
      ids.map((id) => keys.workRequest(id)),
      { consistent: true },
    );
    const byId = new Map(items.map((i) => [Number(i.id), toWorkRequest(i)]));
    return ids.flatMap((id) => {
      const wr = byId.get(id);
      return wr ? [wr] : [];
    });
  }

  /** Newest first from gsi4 (`WRS#<scope>`): one Query and one BatchGetItem per page (work-request-listing.ts). */
  async list(filter: WorkRequestListFilter): Promise<Page<WorkRequest>> {
    const page = await listWorkRequestItems(this.doc, this.tableName, filter);
    return { items: page.items.map(toWorkRequest), ...(page.next !== undefined ? { next: page.next } : {}) };
  }

  cursorAfter(wr: WorkRequest, _filter: WorkRequestListFilter): string {
    return listingCursorAfter(wr.scope, workRequestIndexes(wr).gsi4sk);
  }

  /**
   * One TransactWriteItems, in this order: creates (Put, `attribute_not_exists(pk)`, followed by the
   * child link `WR#<parent>` / `CHILD#<id16>` when `parent` is set: an unconditional Put), updates (Put
   * of the whole item with `version` = expected + 1, condition `attribute_exists(pk) AND version =
   * :expected`), slot changes (Update of the worker's `assigned`), reverse-dependency links added
   * (Put) and removed (Delete). A failed condition becomes a ConflictError naming the item.
   */
  async commit(changes: WorkRequestChanges): Promise<void> {
    const ops: { item: TransactItem; conflict: (old: RawItem | undefined) => ConflictError }[] = [];
    const seen = new Set<string>();
    const once = (key: { pk: string; sk: string }, what: string) => {
      const id = `${key.pk}\u0000${key.sk}`;
      if (seen.has(id)) throw new Error(`commit: ${what} appears twice in one transaction`);
      seen.add(id);
    };

    for (const wr of changes.create ?? []) {
      once(keys.workRequest(wr.id), `work request ${wr.id}`);
      ops.push({
        item: {
          Put: {
            TableName: this.tableName,
            Item: workRequestItem(wr, wr.version),
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: names('pk'),
          },
        },
        conflict: () => new ConflictError('Work request exists', `work request ${wr.id} already exists`),
      });
      if (wr.parent !== null) {
        const link = childLinkKey(wr.parent, wr.id);
        once(link, `child link ${wr.parent} → ${wr.id}`);
        ops.push({
          item: { Put: { TableName: this.tableName, Item: { ...link, entity: 'workflowChild', parent: wr.parent, child: wr.id } } },
          conflict: () => new ConflictError('Concurrent update', 'reload and try again'), // unconditional: never fails
        });
      }
    }
    for (const { workRequest: wr, expectedVersion } of changes.update ?? []) {
      once(keys.workRequest(wr.id), `work request ${wr.id}`);
      ops.push({
        item: {
          Put: versionedPut(this.tableName, workRequestItem(wr, expectedVersion + 1), expectedVersion),
        },
        conflict: (old) =>
          old
            ? new ConflictError(
                WORK_REQUEST_CHANGED,
                `work request ${wr.id}: expected version ${expectedVersion}, found ${rawNumber(old, 'version') ?? 'none'}; reload and try again`,
              )
            : new ConflictError(WORK_REQUEST_CHANGED, `work request ${wr.id} does not exist`),
      });
    }
    // One ADD per workflow whose children this commit creates (unless the caller counts them itself
    // afterwards: `raiseChildrenCreated`) or finishes (no condition: never fails).
    for (const [parent, d] of childProgressDeltas(changes.uncountedChildren ? [] : (changes.create ?? []), changes.update ?? [])) {
      const key = childProgressKey(parent);
      once(key, `child progress of ${parent}`);
      ops.push({
        item: {
          Update: {
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'SET #entity = :entity ADD #created :created, #finished :finished, #unsuccessful :unsuccessful',
            ExpressionAttributeNames: names('entity', 'created', 'finished', 'unsuccessful'),
            ExpressionAttributeValues: { ':entity': 'childProgress', ':created': d.created, ':finished': d.finished, ':unsuccessful': d.unsuccessful },
          },
        },
        conflict: () => new ConflictError('Concurrent update', 'reload and try again'),
      });
    }
    for (const slot of changes.slots ?? []) {
      once(keys.worker(slot.worker), `worker ${slot.worker}`);
      // The holder may be updated (a pass's assignment) or created already assigned.
      const written = [...(changes.update ?? []).map((u) => u.workRequest), ...(changes.create ?? [])];
      const holder = slot.workRequestId === undefined ? undefined : written.find((wr) => wr.id === slot.workRequestId);
      ops.push(
        slot.delta === 1
          ? takeSlot(this.tableName, slot, holder?.assignedAt ?? undefined)
          : giveBackSlot(this.tableName, slot.worker, slot.workRequestId === undefined ? undefined : { workRequestId: slot.workRequestId }),
      );
    }
    for (const link of changes.addReverseDependencies ?? []) {
      const key = keys.reverseDependency(link.dependency, link.dependent);
      once(key, `reverse dependency ${link.dependency} → ${link.dependent}`);
      ops.push({
        item: {
          Put: {
            TableName: this.tableName,
            Item: { ...key, entity: 'reverseDependency', dependency: link.dependency, dependent: link.dependent },
          },
        },
        conflict: () => new ConflictError('Concurrent update', 'reload and try again'), // unconditional: never fails
      });
    }
    for (const link of changes.removeReverseDependencies ?? []) {
      const key = keys.reverseDependency(link.dependency, link.dependent);
      once(key, `reverse dependency ${link.dependency} → ${link.dependent}`);
      ops.push({
        item: { Delete: { TableName: this.tableName, Key: key } },
        conflict: () => new ConflictError('Concurrent update', 'reload and try again'), // unconditional: never fails
      });
    }

    if (ops.length === 0) return;
    // Before the requests: an expiry pass must never see a request whose inputs it cannot find.
    await writeInputPins(this.doc, this.tableName, [...(changes.create ?? []), ...(changes.update ?? []).map((u) => u.workRequest)]);
    if (ops.length > MAX_COMMIT_ITEMS) {
      // Splitting would give up atomicity: callers keep their changes small.
      throw new Error(`commit: ${ops.length} items exceed the ${MAX_COMMIT_ITEMS} items of one transaction`);
    }
    // One request and its own slot: two plain conditional writes in a safe order (plain-slot-commit.ts).
    if (writtenInTwoSteps(changes)) return writeInTwoSteps(this.doc, this.tableName, changes, ops[0]!);
    // A transaction costs twice the write units of a plain conditional write: a change of one
    // item (creating a request, starting it, recording its output) does not need one.
    const single = ops.length === 1 ? ops[0]!.item.Put : undefined;
    // The pending partitions its requests enter may hold work: their markers are set alongside the
    // commit, not after it (candidate-markers.ts says why that is safe).
    const marking = this.markAlongside(changes);
    const outcome = await attempt<unknown>(() =>
      single ? this.doc.send(new PutCommand(single)) : this.doc.send(new TransactWriteCommand({ TransactItems: ops.map((o) => o.item) })),
    );
    await marking?.landed(outcome.ok, Date.now());
    if (outcome.ok) return;
    const failure = firstFailure(outcome);
    if (!failure) throw new ConflictError('Concurrent update', 'the transaction was cancelled; reload and try again');
    throw ops[failure.index]!.conflict(failure.reason.item);
  }

  /**
   * Starts the marker sets of the pending partitions a commit's requests enter, alongside it;
   * `landed` waits for them and, when the commit was answered (`answeredAt`) after the window its
   * sets allowed for, sets them again. A failed set never turns a landed commit into an error (its caller would
   * redo it): the scheduler's periodic pass, which reads every partition, sets the marker again.
   * A commit that failed leaves a stale "may hold": one read.
   */
  private markAlongside(changes: WorkRequestChanges): { landed: (ok: boolean, answeredAt: number) => Promise<void> } | undefined {
    const written = [...(changes.create ?? []), ...(changes.update ?? []).map((u) => u.workRequest)];
    const entered = written.map((wr) => workRequestIndexes(wr).gsi3pk).filter((pk) => markerKeyOfIndex(pk) !== undefined);
    if (entered.length === 0) return undefined;
    const batch = changes.pendingBatch instanceof MarkerBatch ? changes.pendingBatch : undefined;
    const sentAt = Date.now();
    const landsBy = sentAt + this.commitWindowMs;
    if (batch) {
      const setting = batch.noteEntered(entered, landsBy).catch(() => undefined);
      return {
        landed: async (ok, answeredAt) => {
          await setting;
          // Too slow for the window: a reader's clear may have been based on a Query before the commit landed.
          if (ok && answeredAt > landsBy) batch.landedLate(entered);
        },
      };
    }
    // Markers this process set a moment ago are not set again (`setAlongside`); a failed set counts as
    // covering only up to the window, like a sent one.
    const setting = this.markers.setAlongside(entered, sentAt, landsBy).catch(() => undefined);
    return {
      landed: async (ok, answeredAt) => {
        const coveredUntil = await setting;
        if (!ok) return;
        const late = markerKeysOf(entered).filter((sk) => (coveredUntil?.get(sk) ?? landsBy) < answeredAt);
        // Answered after its marker's cover: a reader's clear may have been based on a Query before the commit landed.
        if (late.length) await this.markers.set(late).catch(() => undefined);
      },
    };
  }

  /** Query of the dependency's partition (consistent unless asked not to): `begins_with(sk, 'RDEP#')`; ids ascending. */
  async reverseDependencies(id: number, opts: { consistent?: boolean } = {}): Promise<number[]> {
    const items = await queryPartition(this.doc, this.tableName, workRequestPk(id), { beginsWith: REVERSE_DEPENDENCIES }, opts.consistent ?? true);
    return items.map((i) => Number(i.dependent));
  }

  /**
   * Consistent Query of the parent's partition (`begins_with(sk, 'CHILD#')`, paged), then a
   * consistent BatchGet of the children: every child, superseded ones included, by id.
   */
  async children(parentId: number): Promise<WorkRequest[]> {
    const links = await queryPartition(this.doc, this.tableName, workRequestPk(parentId), { beginsWith: CHILDREN });
    const ids = links.map((l) => Number(l.child)).sort((a, b) => a - b);
    return this.getMany(ids);
  }

  /** One consistent GetItem of `WR#<workflow>` / `PROGRESS`. */
  async childProgress(workflowId: number): Promise<ChildProgress | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: childProgressKey(workflowId), ConsistentRead: true }));
    if (!res.Item) return undefined;
    return { created: Number(res.Item.created ?? 0), finished: Number(res.Item.finished ?? 0), unsuccessful: Number(res.Item.unsuccessful ?? 0) };
  }

  /**
   * One UpdateItem of `WR#<workflow>` / `PROGRESS`: `SET created = :n` on condition that it is absent
   * or lower (a failed condition is the "already as high" case, not an error). A plain write of a
   * small item: 1 WCU for a whole populate, instead of an item in each child's create transaction.
   */
  async raiseChildrenCreated(workflowId: number, created: number): Promise<void> {
    await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: childProgressKey(workflowId),
          UpdateExpression: 'SET #entity = :entity, #created = :created',
          ConditionExpression: 'attribute_not_exists(#created) OR #created < :created',
          ExpressionAttributeNames: names('entity', 'created'),
          ExpressionAttributeValues: { ':entity': 'childProgress', ':created': created },
        }),
      ),
    );
  }

  /** gsi3 `PENDING#<type>#<arch>#<0..3>`: `limit` from each shard, merged by sort key, first `limit`. */
  async pendingCandidates(taskType: TaskType, architecture: string | null, limit: number, partitions?: CandidatePartitions): Promise<WorkRequest[]> {
    checkLimit(limit);
    if (!SCHEDULED_TASK_TYPES.includes(taskType)) return [];
    if (partitions && !partitions.mayHold(taskType, architecture)) return [];
    const found = await this.shards((shard) => indexKeys.pending(taskType, architecture, shard), limit);
    if (partitions instanceof MarkerSnapshot) await this.markers.observed(partitions, taskType, architecture, found.length > 0);
    return found;
  }

  /** One eventually consistent Query of the `CANDIDATES` partition (every marker). */
  candidatePartitions(opts: { trusted?: boolean } = {}): Promise<CandidatePartitions> {
    return this.markers.snapshot(opts.trusted ?? true);
  }

  /** A marker batch of this repository's markers (candidate-markers.ts). */
  pendingBatch(): PendingBatch {
    return new MarkerBatch(this.markers);
  }

  /** From the worker's slot holders, read consistently (or as `read` was), by id, `finished` not read (worker-holders.ts). */
  activeForWorker(worker: string, read?: Worker, finished?: number): Promise<WorkRequest[]> {
    return activeFromHolders(this.doc, this.tableName, worker, { many: (ids) => this.getMany(ids), item: toWorkRequest, worker: read, finished });
  }

  /** gsi3 `RUNNING#<0..3>` with `gsi3sk < :before`: oldest sign of life first. */
  async staleRunning(before: string, limit: number): Promise<WorkRequest[]> {
    checkLimit(limit);
    return this.shards(indexKeys.running, limit, { condition: '#gsi3sk < :bound', bound: timeKey(before, 'before') });
  }

  /** gsi3 `WFRUNNING#<0..3>` with `gsi3sk < :before`: running workflows started before `before`, oldest first. */
  async runningWorkflows(startedBefore: string, limit: number): Promise<WorkRequest[]> {
    checkLimit(limit);
    return this.shards(indexKeys.runningWorkflows, limit, { condition: '#gsi3sk < :bound', bound: timeKey(startedBefore, 'before') });
  }

  /** gsi3 `WAIT#<0..3>` with `gsi3sk <= '<now>~'` (`~` sorts after `#<id>`): earliest due first. */
  async dueWaits(now: string, limit: number): Promise<WorkRequest[]> {
    checkLimit(limit);
    return this.shards(indexKeys.waiting, limit, { condition: '#gsi3sk <= :bound', bound: `${timeKey(now, 'now')}~` });
  }

  /**
   * UpdateItem SET heartbeatAt, logtail and gsi3sk (the RUNNING index position), conditioned on the
   * request running on that worker and the heartbeat being newer than the stored one. It does not
   * bump `version`: heartbeats never conflict with state changes.
   */
  async applyHeartbeat(heartbeat: HeartbeatMessage): Promise<boolean> {
    const at = timeKey(heartbeat.at, 'at');
    const outcome = await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.workRequest(heartbeat.workRequestId),
          UpdateExpression: 'SET #heartbeatAt = :at, #logtail = :logtail, #gsi3sk = :sk',
          ConditionExpression: '#status = :running AND #worker = :worker AND (attribute_not_exists(#heartbeatAt) OR #heartbeatAt < :at)',
          ExpressionAttributeNames: names('heartbeatAt', 'logtail', 'gsi3sk', 'status', 'worker'),
          ExpressionAttributeValues: {
            ':at': at,
            ':logtail': [...heartbeat.logtail],
            ':sk': runningSortKey(heartbeat.workRequestId, at),
            ':running': 'running',
            ':worker': heartbeat.worker,
          },
        }),
      ),
    );
    return outcome.ok;
  }

  /** See plain-slot-commit.ts. */
  releaseOrphanedSlots(takenBefore: string): Promise<number> {
    return releaseOrphanedSlots(this.doc, this.tableName, timeKey(takenBefore, 'takenBefore'), (id) => this.get(id));
  }

  // --- helpers ------------------------------------------------------------------------------

  /** Queries the four shards of a gsi3 partition family (optionally bounded on gsi3sk) and merges them. */
  private async shards(partition: (shard: number) => string, limit: number, range?: { condition: string; bound: string }): Promise<WorkRequest[]> {
    const inputs: QueryCommandInput[] = Array.from({ length: WORK_REQUEST_SHARDS }, (_, shard) => ({
      TableName: this.tableName,
      IndexName: GSI3,
      KeyConditionExpression: range ? `#gsi3pk = :pk AND ${range.condition}` : '#gsi3pk = :pk',
      ExpressionAttributeNames: range ? names('gsi3pk', 'gsi3sk') : names('gsi3pk'),
      ExpressionAttributeValues: range ? { ':pk': partition(shard), ':bound': range.bound } : { ':pk': partition(shard) },
      ScanIndexForward: true,
    }));
    return (await queryShards(this.doc, inputs, 'gsi3sk', limit)).map(toWorkRequest);
  }
}

// Items <-> domain objects. Every field is stored under its own name, except the free-form JSON
// objects (taskData, dynamicTaskData, eventReactions, workflowData, outputData), kept as JSON text
// (`<field>Json`) so that any JSON value round-trips exactly. Null scalar fields are not stored; a
// root workflow's `run` is a map `{name, major, minor, status}` (absent when null), and
// `internalCollection` a number (absent when null).

/** The whole item of a work request, with its derived index attributes, at `version`. */
export function workRequestItem(wr: WorkRequest, version: number): Item {
  return compact({
    ...keys.workRequest(wr.id),
    entity: 'workRequest',
    id: wr.id,
    scope: wr.scope,
    workspace: wr.workspace,
    createdBy: wr.createdBy,
    taskType: wr.taskType,
    taskName: wr.taskName,
    taskDataJson: JSON.stringify(wr.taskData ?? {}),
    hostArchitecture: wr.hostArchitecture ?? undefined,
    dynamicTaskDataJson: JSON.stringify(wr.dynamicTaskData ?? null),
    status: wr.status,
    result: wr.result,
    worker: wr.worker ?? undefined,
    assignedAt: wr.assignedAt ?? undefined,
    createdAt: wr.createdAt,
    startedAt: wr.startedAt ?? undefined,
    completedAt: wr.completedAt ?? undefined,
    priorityBase: wr.priorityBase,
    priorityAdjustment: wr.priorityAdjustment,
    parent: wr.parent ?? undefined,
    dependencies: [...wr.dependencies],
    unblockStrategy: wr.unblockStrategy,
    eventReactionsJson: JSON.stringify(wr.eventReactions ?? {}),
    workflowDataJson: JSON.stringify(wr.workflowData ?? {}),
    outputDataJson: JSON.stringify(wr.outputData ?? null),
    retryCount: wr.retryCount,
    supersedes: wr.supersedes ?? undefined,
    supersededBy: wr.supersededBy ?? undefined,
    abortedBy: wr.abortedBy ?? undefined,
    heartbeatAt: wr.heartbeatAt ?? undefined,
    logtail: [...wr.logtail],
    outputArtifacts: [...wr.outputArtifacts],
    run: wr.run ? { name: wr.run.name, major: wr.run.major, minor: wr.run.minor, status: wr.run.status } : undefined,
    internalCollection: wr.internalCollection ?? undefined,
    version,
    ...workRequestIndexes(wr),
  });
}

export function toWorkRequest(item: Item): WorkRequest {
  return {
    id: Number(item.id),
    scope: item.scope,
    workspace: item.workspace,
    createdBy: item.createdBy,
    taskType: item.taskType,
    taskName: item.taskName,
    taskData: JSON.parse(item.taskDataJson ?? '{}'),
    hostArchitecture: item.hostArchitecture ?? null,
    dynamicTaskData: JSON.parse(item.dynamicTaskDataJson ?? 'null'),
    status: item.status,
    result: item.result ?? '',
    worker: item.worker ?? null,
    assignedAt: item.assignedAt ?? null,
    createdAt: item.createdAt,
    startedAt: item.startedAt ?? null,
    completedAt: item.completedAt ?? null,
    priorityBase: Number(item.priorityBase ?? 0),
    priorityAdjustment: Number(item.priorityAdjustment ?? 0),
    parent: item.parent ?? null,
    dependencies: ((item.dependencies ?? []) as unknown[]).map(Number),
    unblockStrategy: item.unblockStrategy,
    eventReactions: JSON.parse(item.eventReactionsJson ?? '{}'),
    workflowData: JSON.parse(item.workflowDataJson ?? '{}'),
    outputData: JSON.parse(item.outputDataJson ?? 'null'),
    retryCount: Number(item.retryCount ?? 0),
    supersedes: item.supersedes ?? null,
    supersededBy: item.supersededBy ?? null,
    abortedBy: item.abortedBy ?? null,
    heartbeatAt: item.heartbeatAt ?? null,
    logtail: [...((item.logtail ?? []) as string[])],
    outputArtifacts: ((item.outputArtifacts ?? []) as unknown[]).map(Number),
    run: toRun(item.run),
    internalCollection: item.internalCollection === undefined || item.internalCollection === null ? null : Number(item.internalCollection),
    version: Number(item.version),
  };
}

function toRun(value: unknown): WorkflowRun | null {
  if (!value || typeof value !== 'object') return null;
  const run = value as Record<string, unknown>;
  const status = String(run.status);
  if (!(RUN_STATUSES as readonly string[]).includes(status)) throw new Error(`work request item holds an unknown run status ${JSON.stringify(status)}`);
  return { name: String(run.name), major: Number(run.major), minor: Number(run.minor), status: status as WorkflowRun['status'] };
}
