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
 * - a commit that puts a request into a pending partition sets its marker (`holds = true`, `gen + 1`)
 *   ALONGSIDE the commit (the write and the set are sent together: no round trip of its own on the
 *   way from a completion to its dependent's pending write), and the set says when the commit will
 *   have landed at the latest: `setAt = issue time + COMMIT_WINDOW_MS`. If the commit's answer comes
 *   later than that, the marker is set again after it (`setAt = now`), as before this rule;
 * - a reader that found every shard of a partition empty clears the marker only if `gen` is still
 *   what its snapshot saw (no set since) and its snapshot was read at least twice the index lag
 *   after `setAt` (a gsi3 Query may miss an item committed a moment before, on DynamoDB; DynamoDB Local
 *   updates its indexes with the write, so the local stack runs with no lag margin). Why a parallel
 *   set is safe: a reader whose Query ran before the commit landed may well have seen the new `gen`,
 *   but then its snapshot was read before the commit landed, so before `setAt` (the commit landed by
 *   `setAt`, or the marker is set again after it landed with a later `setAt` and gen): its clear is
 *   refused. A reader that may clear read its snapshot, hence ran its Query, at least `2 × lag` after
 *   the commit landed: the Query sees the request. (Clocks of two processes are compared: their skew
 *   must stay well below the margins, as it is with Lambda's time sync and on one machine.);
 * - `setAt` never goes back: a set whose `setAt` is older than the stored one (two sets of the same
 *   marker landing out of order, or a sequential set just after a parallel one) keeps the stored
 *   one and only bumps `gen` (a conditional write, and on its failure a second one: rare);
 * - a commit sent while this process's own last set of its marker still covers it (the stored `setAt`,
 *   plus the lag margin, is at least COVER_MARGIN_MS away) sends no set at all; answered after the cover,
 *   it sets the marker after it (`setAt = now`) as above. A clear needs a snapshot read at least 2 × lag
 *   after the stored `setAt`, so its Query runs after such a commit landed;
 * - a missing marker means "unknown": the partition is read, and created "empty" only if still absent;
 * - a stale "may hold" costs one read (a set whose commit failed leaves one); a lost set (the process
 *   died before it, or it failed) is repaired by the scheduler's periodic pass, which reads every
 *   partition whatever its marker says and sets the marker of any partition it finds non-empty.
 * The full argument, with the redundant-set skip: docs/decisions.md ("Candidate markers set alongside
 * the commit").
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
/**
 * How long a commit sent alongside its marker set may take before the set is repeated after it
 * (DynamoDB and DynamoDB Local answer a write in milliseconds): a clear waits this much longer after
 * such a set, and only a commit slower than this costs the round trip the parallel set saves. It is
 * also how long the set covers this process's later commits into the partition (no set of their own):
 * a second, so that a busy partition costs about one set per second and process, not one per commit,
 * while a partition that became empty says "may hold" (one Query in vain per reader) at most that longer.
 */
export const COMMIT_WINDOW_MS = 1_000;
/**
 * A commit relies on the cover of this process's own last set of its marker (`coveredUntil`) only if
 * that cover lasts at least this much longer than the moment it is sent; its answer is checked against
 * the cover anyway (a slower one sets the marker after it), so this only keeps that second round trip rare.
 */
export const COVER_MARGIN_MS = 25;

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
export function markerKeysOf(gsi3pks: (string | undefined)[]): string[] {
  return [...new Set(gsi3pks.map(markerKeyOfIndex).filter((k): k is string => k !== undefined))];
}

/**
 * The commits of one step that lets many requests go (a populate): a partition's marker is set
 * alongside the first commit into it (so that the first request is seen at once) and, by `close`,
 * once more for a partition entered again since (or whose first commit was slower than the commit
 * window). The close's sets are after every commit of the batch, so after `close` no clear based on
 * an earlier Query can hide a request of the batch; the caller's scheduler event after `close` makes
 * a pass look again. Two sets per partition instead of one per request (a 100-child flat populate:
 * 2 instead of 100).
 */
export class MarkerBatch implements PendingBatch {
  private readonly marked = new Set<string>();
  private readonly enteredAgain = new Set<string>();

  constructor(private readonly markers: CandidateMarkers) {}

  /** Alongside a commit whose requests enter `gsi3pks` (`setAt`: see `CandidateMarkers.set`). */
  async noteEntered(gsi3pks: (string | undefined)[], setAt = Date.now()): Promise<void> {
    const first: string[] = [];
    for (const key of markerKeysOf(gsi3pks)) {
      if (this.marked.has(key)) this.enteredAgain.add(key);
      else first.push(key);
    }
    await this.markers.set(first, setAt);
    for (const key of first) this.marked.add(key);
  }

  /** The commit landed after its parallel set's `setAt`: `close` sets its partitions again. */
  landedLate(gsi3pks: (string | undefined)[]): void {
    for (const key of markerKeysOf(gsi3pks)) this.enteredAgain.add(key);
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
   * Until when (ms) the stored marker `sk` already says "may hold" for any commit that lands by then,
   * as far as this process knows: its last set stored a `setAt` at least `last` (it never goes back),
   * and a reader clears only with a snapshot read at least twice the index lag after the stored
   * `setAt`, so its Query runs at least the lag after such a commit landed and finds the request.
   * Undefined: this process has not set it.
   */
  coveredUntil(sk: string): number | undefined {
    const last = this.recentSets.get(sk);
    return last === undefined ? undefined : last + this.indexLagMs;
  }

  /**
   * Alongside a commit sent at `sentAt` whose requests enter `gsi3pks`: sets their markers with
   * `setAt = landsBy` (the latest the commit may land), except those this process's own last set
   * still covers (`coveredUntil`) for at least COVER_MARGIN_MS more: no write at all for a partition
   * entered again and again, as a workflow chain's dependents or a burst of requests do. Resolves to
   * the time until which each marker is covered without another set: a commit answered later than
   * that must set it again after it (`setAt = now`).
   */
  async setAlongside(gsi3pks: (string | undefined)[], sentAt: number, landsBy: number): Promise<Map<string, number>> {
    const coveredUntil = new Map<string, number>();
    const sent: string[] = [];
    for (const sk of markerKeysOf(gsi3pks)) {
      const covered = this.coveredUntil(sk);
      if (covered !== undefined && covered >= sentAt + COVER_MARGIN_MS) coveredUntil.set(sk, covered);
      else {
        sent.push(sk);
        coveredUntil.set(sk, landsBy);
      }
    }
    await this.set(sent, landsBy);
    return coveredUntil;
  }

  /**
   * Sets the markers `keys` with `setAt` (ms; after their commit landed: now; alongside it: the latest
   * time it may land), unless this process set one with a `setAt` less than the lag margin before:
   * the stored `setAt` is at least that one, so a clear waits past this commit plus the lag anyway.
   * A repair (`redundantSkipped` false) is always sent: the marker is known to be wrong.
   */
  async set(keys: string[], setAt = Date.now(), redundantSkipped = true): Promise<void> {
    await Promise.all(
      keys.map(async (sk) => {
        const last = this.recentSets.get(sk);
        if (redundantSkipped && last !== undefined && setAt - last < this.indexLagMs) return;
        const at = new Date(setAt).toISOString();
        const mark = (keepLaterSetAt: boolean) =>
          this.doc.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: { pk: CANDIDATE_MARKERS_PK, sk },
              UpdateExpression: `SET #holds = :true, #entity = :entity${keepLaterSetAt ? '' : ', #setAt = :at'} ADD #gen :one`,
              // `setAt` never goes back: ISO times of one format compare as strings.
              ...(keepLaterSetAt ? {} : { ConditionExpression: 'attribute_not_exists(#setAt) OR #setAt <= :at' }),
              ExpressionAttributeNames: names('holds', 'gen', 'entity', ...(keepLaterSetAt ? [] : ['setAt'])),
              ExpressionAttributeValues: { ':true': true, ':one': 1, ':entity': 'candidateMarker', ...(keepLaterSetAt ? {} : { ':at': at }) },
            }),
          );
        const outcome = await attempt(() => mark(false));
        // A later `setAt` is stored (a set landing out of order): it covers this commit too; only "may hold" and a new gen.
        if (!outcome.ok) await mark(true);
        this.recentSets.set(sk, Math.max(last ?? setAt, setAt));
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
      if (marker && !marker.holds) await this.set([sk], now, false);
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
