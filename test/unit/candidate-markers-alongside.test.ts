/**
 * Candidate markers set ALONGSIDE the commit that makes a request pending (candidate-markers.ts):
 * the marker's `setAt` is the latest time the commit may land, so a reader whose snapshot and Query
 * came before the commit landed can never clear it; a commit answered later than that window sets
 * the marker again after it; `setAt` never goes back. Against a small in-memory model of the marker
 * items (the commands CandidateMarkers sends, with DynamoDB's condition semantics), its clock moved by hand.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { CANDIDATE_MARKERS_PK, CandidateMarkers, COMMIT_WINDOW_MS, COVER_MARGIN_MS, MarkerSnapshot } from '../../shared/adapters/dynamodb/candidate-markers';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { bump, newWorkRequest } from '../../shared/domain/work-requests';
import { sequentialSteps, type TimedCall } from '../../bench/completion-trace';

interface StoredMarker {
  holds: boolean;
  gen: number;
  setAt?: string;
}

interface Input {
  Key?: { pk: string; sk: string };
  Item?: Record<string, unknown>;
  ConditionExpression?: string;
  ExpressionAttributeValues?: Record<string, unknown>;
  UpdateExpression?: string;
}

/**
 * The marker items and the commands that touch them; any other write (a work request's) is recorded
 * and answered after `writeDelayMs`. Every call takes at least a macrotask, as a network request does.
 */
function markerTable(opts: { writeDelayMs?: number; duringWrite?: () => void } = {}) {
  const markers = new Map<string, StoredMarker>();
  const calls: TimedCall[] = [];
  const conditionFailed = () => Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
  const doc = {
    send: async (command: { constructor: { name: string }; input: Input }) => {
      const name = command.constructor.name.replace(/Command$/, '');
      const call: TimedCall = { command: name === 'Update' ? 'UpdateItem' : name === 'Put' ? 'PutItem' : name, start: performance.now(), end: Number.POSITIVE_INFINITY };
      calls.push(call);
      await tick();
      try {
        const { input } = command;
        const values = input.ExpressionAttributeValues ?? {};
        const sk = input.Key?.sk ?? String(input.Item?.sk);
        const onMarker = (input.Key?.pk ?? input.Item?.pk) === CANDIDATE_MARKERS_PK;
        if (name === 'Query') return { Items: [...markers].map(([key, m]) => ({ pk: CANDIDATE_MARKERS_PK, sk: key, ...m })) };
        if (!onMarker) {
          if (opts.writeDelayMs) await sleep(opts.writeDelayMs);
          opts.duringWrite?.();
          return {};
        }
        const stored = markers.get(sk);
        if (name === 'Put') {
          if (stored) throw conditionFailed();
          markers.set(sk, { holds: input.Item!.holds === true, gen: Number(input.Item!.gen), setAt: String(input.Item!.setAt) });
        } else if (values[':true'] === true) {
          const at = values[':at'] as string | undefined;
          if (input.ConditionExpression && stored?.setAt !== undefined && !(stored.setAt <= at!)) throw conditionFailed();
          markers.set(sk, { holds: true, gen: (stored?.gen ?? 0) + 1, setAt: at ?? stored?.setAt });
        } else if (values[':false'] === false) {
          if (!stored || stored.gen !== values[':gen']) throw conditionFailed();
          markers.set(sk, { ...stored, holds: false });
        }
        return {};
      } finally {
        call.end = performance.now();
      }
    },
  } as unknown as DynamoDBDocumentClient;
  return { doc, markers, calls };
}

const KEY = 'Worker#amd64';

/** Date.now() as the test says. */
function clock(start: number) {
  let now = start;
  const spy = jest.spyOn(Date, 'now').mockImplementation(() => now);
  return { at: (ms: number) => (now = ms), restore: () => spy.mockRestore() };
}

afterEach(() => jest.restoreAllMocks());

test('a reader that read the marker and queried the partition before the pending write landed cannot clear a marker set alongside it', async () => {
  const { doc, markers } = markerTable();
  const writer = new CandidateMarkers(doc, 'main', 0); // no lag margin, as on the local stack
  const reader = new CandidateMarkers(doc, 'main', 0);
  const t = clock(1_000_000);
  // The partition was empty and known to be so.
  await reader.observed(await reader.snapshot(true), 'Worker', 'amd64', false);
  expect(markers.get(KEY)).toMatchObject({ holds: false, gen: 0 });

  // The writer sends the pending write and the marker set together; the set lands first.
  await writer.set([KEY], Date.now() + COMMIT_WINDOW_MS);
  expect(markers.get(KEY)).toMatchObject({ holds: true, gen: 1 });
  // A reader sees the new gen but its Query ran before the write landed: found nothing. Its clear is refused
  // however late within the window it comes, since the commit may still land up to its end.
  for (const readAt of [1_000_001, 1_000_000 + COMMIT_WINDOW_MS - 1]) {
    t.at(readAt);
    const snapshot = await reader.snapshot(true);
    expect(snapshot.mayHold('Worker', 'amd64')).toBe(true);
    await reader.observed(snapshot, 'Worker', 'amd64', false);
    expect(markers.get(KEY)).toMatchObject({ holds: true, gen: 1 });
  }
  // Once the window is over the commit has landed (or its writer set the marker again): a Query then
  // sees the request, so a reader that still finds the partition empty may clear it.
  t.at(1_000_000 + COMMIT_WINDOW_MS);
  await reader.observed(await reader.snapshot(true), 'Worker', 'amd64', false);
  expect(markers.get(KEY)).toMatchObject({ holds: false, gen: 1 });
  t.restore();
});

test('setAt never goes back: a set with an earlier setAt (landing out of order, or after a set alongside a commit) still says "may hold" with a new gen', async () => {
  const { doc, markers, calls } = markerTable();
  const t = clock(2_000_000);
  const a = new CandidateMarkers(doc, 'main', 0);
  const b = new CandidateMarkers(doc, 'main', 0);
  await a.set([KEY], 2_000_000 + COMMIT_WINDOW_MS); // alongside a commit
  await b.set([KEY], 2_000_050); // after another commit, landing later
  expect(markers.get(KEY)).toEqual({ holds: true, gen: 2, setAt: new Date(2_000_000 + COMMIT_WINDOW_MS).toISOString() });
  expect(calls.filter((c) => c.command === 'UpdateItem')).toHaveLength(3); // the refused conditional write, then the gen-only one
  // The later setAt protects b's commit too: no clear before it.
  t.at(2_000_000 + COMMIT_WINDOW_MS - 1);
  await b.observed(await b.snapshot(true), 'Worker', 'amd64', false);
  expect(markers.get(KEY)?.holds).toBe(true);
  t.restore();
});

test('a reader that finds requests under a marker wrongly "empty" sets it again, even within the window of its own set', async () => {
  const { doc, markers } = markerTable();
  const t = clock(3_000_000);
  const process = new CandidateMarkers(doc, 'main', 0);
  await process.set([KEY], 3_000_000 + COMMIT_WINDOW_MS); // alongside a commit
  markers.set(KEY, { ...markers.get(KEY)!, holds: false }); // lost, as by a wrong clear
  t.at(3_000_010);
  const untrusted = new MarkerSnapshot((await process.snapshot(false)).markers, false, Date.now());
  await process.observed(untrusted, 'Worker', 'amd64', true);
  expect(markers.get(KEY)).toMatchObject({ holds: true, gen: 2 });
  t.restore();
});

describe("the repository's commit", () => {
  const fields = { scope: 'debusine', workspace: 'System', createdBy: 'user:alice', taskType: 'Worker', taskName: 'noop', taskData: {}, hostArchitecture: 'amd64' } as const;
  const blocked = newWorkRequest({ id: 77, ...fields, status: 'blocked', createdAt: '2026-12-06T10:00:00.000Z' });
  const pending = { update: [{ workRequest: bump(blocked, { status: 'pending' }), expectedVersion: blocked.version }] };

  test('a pending write and its marker set are one round trip', async () => {
    const { doc, markers, calls } = markerTable({ writeDelayMs: 5 });
    await new DynamoWorkRequestRepository(doc, 'main', 0).commit(pending);
    expect(markers.get(KEY)).toMatchObject({ holds: true, gen: 1 });
    const steps = sequentialSteps(calls, 0, Number.POSITIVE_INFINITY);
    expect(steps).toHaveLength(1);
    expect(steps[0]!.sort()).toEqual(['PutItem', 'UpdateItem']);
  });

  test('while the pending write is in flight, a reader that finds the partition empty does not clear the marker; the next pass finds the request', async () => {
    const { doc, markers } = markerTable({ writeDelayMs: 30 });
    const repository = new DynamoWorkRequestRepository(doc, 'main', 0);
    const reader = new CandidateMarkers(doc, 'main', 0);
    await reader.observed(await reader.snapshot(true), 'Worker', 'amd64', false); // known empty
    const committing = repository.commit(pending);
    await sleep(10); // the marker set has landed, the write has not
    const snapshot = await reader.snapshot(true);
    expect(snapshot.markers.get(KEY)).toMatchObject({ holds: true, gen: 1 });
    await reader.observed(snapshot, 'Worker', 'amd64', false); // its Query missed the request
    await committing;
    expect(markers.get(KEY)).toMatchObject({ holds: true, gen: 1 });
    expect((await reader.snapshot(true)).mayHold('Worker', 'amd64')).toBe(true);
  });

  test('a pending write answered after the window sets the marker again after it, with a later setAt', async () => {
    const { doc, markers, calls } = markerTable({ writeDelayMs: 40 });
    const sentAt = Date.now();
    await new DynamoWorkRequestRepository(doc, 'main', 0, 10).commit(pending);
    const steps = sequentialSteps(calls, 0, Number.POSITIVE_INFINITY);
    expect(steps.map((s) => s[0])).toEqual(['PutItem', 'UpdateItem']); // the set alongside, then again after the write
    expect(steps[0]).toContain('UpdateItem');
    expect(markers.get(KEY)).toMatchObject({ holds: true, gen: 2 });
    expect(Date.parse(markers.get(KEY)!.setAt!)).toBeGreaterThanOrEqual(sentAt + 40);
  });

  test('in a batch (a populate), a first commit answered after the window has its marker set again by close', async () => {
    const { doc, markers } = markerTable({ writeDelayMs: 40 });
    const repository = new DynamoWorkRequestRepository(doc, 'main', 0, 10);
    const batch = repository.pendingBatch();
    await repository.commit({ ...pending, pendingBatch: batch });
    expect(markers.get(KEY)).toMatchObject({ holds: true, gen: 1 }); // no extra round trip in the batch
    await batch.close();
    expect(markers.get(KEY)).toMatchObject({ holds: true, gen: 2 });
  });

  const secondPending = (() => {
    const other = newWorkRequest({ id: 78, ...fields, status: 'blocked', createdAt: '2026-12-06T10:00:00.000Z' });
    return { update: [{ workRequest: bump(other, { status: 'pending' }), expectedVersion: other.version }] };
  })();

  test("a second pending write within the cover of this process's own set sends no marker set: one write, no UpdateItem", async () => {
    const { doc, markers, calls } = markerTable({ writeDelayMs: 5 });
    const repository = new DynamoWorkRequestRepository(doc, 'main', 0, 60_000);
    await repository.commit(pending);
    const afterFirst = { ...markers.get(KEY) };
    calls.length = 0;
    await repository.commit(secondPending);
    expect(calls.map((c) => c.command)).toEqual(['PutItem']);
    expect(markers.get(KEY)).toEqual(afterFirst);
  });

  test('a covered pending write answered after the cover sets the marker after it, with a later setAt', async () => {
    let answeredAt: number | undefined;
    const { doc, markers, calls } = markerTable({ duringWrite: () => answeredAt !== undefined && t.at(answeredAt) });
    const t = clock(5_000_000);
    // A 100 ms window: the first set covers until its commit's send + 100 ms.
    const repository = new DynamoWorkRequestRepository(doc, 'main', 0, 100);
    await repository.commit(pending);
    expect(markers.get(KEY)).toMatchObject({ holds: true, gen: 1, setAt: new Date(5_000_100).toISOString() });
    calls.length = 0;
    t.at(5_000_100 - COVER_MARGIN_MS); // sent with just the margin of cover left: relies on it ...
    answeredAt = 5_000_101; // ... but is answered after it
    await repository.commit(secondPending);
    expect(sequentialSteps(calls, 0, Number.POSITIVE_INFINITY)).toEqual([['PutItem'], ['UpdateItem']]);
    expect(markers.get(KEY)).toEqual({ holds: true, gen: 2, setAt: new Date(5_000_101).toISOString() });
    t.restore();
  });

  test('a write that enters no pending partition sends no marker set', async () => {
    const { doc, markers, calls } = markerTable();
    await new DynamoWorkRequestRepository(doc, 'main', 0).commit({ update: [{ workRequest: bump(blocked, { status: 'aborted' }), expectedVersion: blocked.version }] });
    expect(markers.size).toBe(0);
    expect(calls.map((c) => c.command)).toEqual(['PutItem']);
  });
});
