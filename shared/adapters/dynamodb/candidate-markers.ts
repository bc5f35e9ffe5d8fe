/**
 * "May hold entries" markers of the scheduling partitions (gsi3 `PENDING#<taskType>#<arch>#<shard>`),
 * so that a scheduling pass or a get-next skips the partitions that are empty with ONE read instead
 * of one Query per partition and shard (an empty Query still bills 0.5 RRU and costs a round trip).
 *
 * Items: pk `CANDIDATES`, sk `<taskType>#<arch or ->` (the pending partition without its shard),
 * `{ holds: boolean, gen: number, setAt: ISO time }`. All markers share one partition key, so one
 * eventually consistent Query reads them all (0.5 RRU per 4 KB: a few dozen markers).
 *
 * Kept correct without transactions:
 * - a commit that puts a request into a pending partition sets its marker AFTER the commit landed
 *   (`holds = true`, `gen + 1`): whoever reads the marker after that sees "may hold";
 * - a reader that found every shard of a partition empty clears the marker only if `gen` is still
 *   what its snapshot saw (no set since) and the set is older than twice the index lag (a gsi3 Query may
 *   miss an item committed a moment before, on DynamoDB; DynamoDB Local updates its indexes with
 *   the write, so the local stack runs with no lag margin);
 * - a missing marker means "unknown": the partition is read, and created "empty" only if still absent;
 * - a stale "may hold" costs one read; a lost set (the process died between commit and set) is
 *   repaired by the scheduler's periodic pass, which reads every partition whatever its marker says
 *   and sets the marker of any partition it finds non-empty.
 */
import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CandidatePartitions, PendingBatch } from '../../ports';
import type { TaskType } from '../../domain/work-requests';
import { attempt } from './errors';
import { names, queryAll } from './support';

export const CANDIDATE_MARKERS_PK = 'CANDIDATES';
/** The gsi3 pending partition prefix whose markers these are (`PENDING#<type>#<arch>#<shard>`). */
const PENDING_PREFIX = 'PENDING#';
/** Default index lag margin: gsi3 on DynamoDB usually propagates within a fraction of a second. */
export const DEFAULT_INDEX_LAG_MS = 1_000;

interface Marker {
  holds: boolean;
  gen: number;
  setAt: string;
}

/** The marker sort key of a pending partition: `<taskType>#<arch or ->`. */
export function markerKey(taskType: TaskType, architecture: string | null): string {
  return `${taskType}#${architecture ?? '-'}`;
}

/** The marker sort key of a gsi3 partition key, when it is a pending partition (the shard dropped). */
export function markerKeyOfIndex(gsi3pk: string | undefined): string | undefined {
  if (!gsi3pk?.startsWith(PENDING_PREFIX)) return undefined;
  return gsi3pk.slice(PENDING_PREFIX.length, gsi3pk.lastIndexOf('#'));
}

/** The marker keys of the pending partitions among `gsi3pks`, each once. */
function markerKeysOf(gsi3pks: (string | undefined)[]): string[] {
  return [...new Set(gsi3pks.map(markerKeyOfIndex).filter((k): k is string => k !== undefined))];
}

/**
 * The commits of one step that lets many requests go (a populate): a partition's marker is set
 * after the first commit into it (so that the first request is seen at once) and, by `close`,
 * once more for a partition entered again since. Each set is after the commits before it, so
 * after `close` no clear based on an earlier Query can hide a request of the batch; the caller's
 * scheduler event after `close` makes a pass look again. Two sets per partition instead of one
 * per request (a 100-child flat populate: 2 instead of 100).
 */
export class MarkerBatch implements PendingBatch {
  private readonly marked = new Set<string>();
  private readonly enteredAgain = new Set<string>();

  constructor(private readonly markers: CandidateMarkers) {}

  async noteEntered(gsi3pks: (string | undefined)[]): Promise<void> {
    const first: string[] = [];
    for (const key of markerKeysOf(gsi3pks)) {
      if (this.marked.has(key)) this.enteredAgain.add(key);
      else first.push(key);
    }
    await this.markers.set(first);
    for (const key of first) this.marked.add(key);
  }

  async close(): Promise<void> {
    const keys = [...this.enteredAgain];
    this.enteredAgain.clear();
    await this.markers.set(keys);
  }
}

/** One read of every marker: what a pass or a get-next skips. */
export class MarkerSnapshot implements CandidatePartitions {
  constructor(
    readonly markers: ReadonlyMap<string, Marker>,
    /** False: every partition is read (the periodic pass), markers are only repaired. */
    readonly trusted: boolean,
    /** When the markers were read (ms): before any Query the reader bases a clear on. */
    readonly readAt: number,
  ) {}

  mayHold(taskType: TaskType, architecture: string | null): boolean {
    if (!this.trusted) return true;
    return this.markers.get(markerKey(taskType, architecture))?.holds ?? true;
  }
}

export class CandidateMarkers {
  /** Markers this process set, and when: a set within the lag margin of the previous one is redundant. */
  private readonly recentSets = new Map<string, number>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly indexLagMs: number,
  ) {}

  async snapshot(trusted: boolean): Promise<MarkerSnapshot> {
    const readAt = Date.now();
    // Eventually consistent (half the price): a stale marker is the index lag the clear already allows for.
    const items = await queryAll(this.doc, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: names('pk'),
      ExpressionAttributeValues: { ':pk': CANDIDATE_MARKERS_PK },
    });
    const markers = new Map<string, Marker>(
      items.map((item) => [String(item.sk), { holds: item.holds === true, gen: Number(item.gen ?? 0), setAt: String(item.setAt ?? '') }]),
    );
    return new MarkerSnapshot(markers, trusted, readAt);
  }

  /**
   * After a commit: the markers of the pending partitions its requests entered say "may hold".
   * Redundant within the lag margin of this process's own last set (no reader may clear it before).
   */
  async noteEntered(gsi3pks: (string | undefined)[], now = Date.now()): Promise<void> {
    await this.set(markerKeysOf(gsi3pks), now);
  }

  /** Sets the markers `keys` (unless this process set one within the lag margin). */
  async set(keys: string[], now = Date.now()): Promise<void> {
    await Promise.all(
      keys.map(async (sk) => {
        const last = this.recentSets.get(sk);
        if (last !== undefined && now - last < this.indexLagMs) return;
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: CANDIDATE_MARKERS_PK, sk },
            UpdateExpression: 'SET #holds = :true, #setAt = :at, #entity = :entity ADD #gen :one',
            ExpressionAttributeNames: names('holds', 'setAt', 'gen', 'entity'),
            ExpressionAttributeValues: { ':true': true, ':at': new Date(now).toISOString(), ':one': 1, ':entity': 'candidateMarker' },
          }),
        );
        this.recentSets.set(sk, now);
      }),
    );
  }

  /**
   * A reader read every shard of a partition: repair its marker if it disagrees. Found entries under
   * an "empty" marker (only an untrusted snapshot reads such a partition) set it again; found none
   * under a "may hold" one clears it if nothing was set since the snapshot (and longer ago than the
   * index lag). A lost race (the condition fails) leaves "may hold": always the safe side.
   */
  async observed(snapshot: MarkerSnapshot, taskType: TaskType, architecture: string | null, found: boolean): Promise<void> {
    const now = Date.now();
    const sk = markerKey(taskType, architecture);
    const marker = snapshot.markers.get(sk);
    if (found) {
      if (marker && !marker.holds) await this.noteEntered([`${PENDING_PREFIX}${sk}#0`], now);
      return;
    }
    if (marker && !marker.holds) return;
    const key = { pk: CANDIDATE_MARKERS_PK, sk };
    const emptyMarker = { ...key, entity: 'candidateMarker', holds: false, gen: 0, setAt: new Date(now).toISOString() };
    if (!marker) {
      await attempt(() =>
        this.doc.send(new PutCommand({ TableName: this.tableName, Item: emptyMarker, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names('pk') })),
      );
      return;
    }
    // A commit whose set this process skipped (within `indexLagMs` of its own set) is visible in the
    // index `indexLagMs` later still: the Query behind this clear must come after both.
    if (snapshot.readAt - Date.parse(marker.setAt) < 2 * this.indexLagMs) return;
    await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #holds = :false',
          ConditionExpression: '#gen = :gen',
          ExpressionAttributeNames: names('holds', 'gen'),
          ExpressionAttributeValues: { ':false': false, ':gen': marker.gen },
        }),
      ),
    );
  }
}
