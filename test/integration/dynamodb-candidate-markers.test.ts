/**
 * The candidate markers of the scheduling partitions (shared/adapters/dynamodb/candidate-markers.ts)
 * against DynamoDB Local: a commit that makes a request pending sets its partition's marker, a
 * reader that finds the partition empty clears it, a trusted snapshot then skips the partition with
 * no Query, a clear never wins over a set it did not see, and an untrusted read repairs a wrong marker.
 * Each test uses its own architecture, so its partition is its own on the shared table.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { CANDIDATE_MARKERS_PK, CandidateMarkers, COMMIT_WINDOW_MS, MarkerSnapshot, markerKey } from '../../shared/adapters/dynamodb/candidate-markers';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { bump, newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';

const table = process.env.CONVEYOR_TABLE_MAIN!;
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
/** No lag margin, as on the local stack (DynamoDB Local writes its indexes with the item). */
const requests = new DynamoWorkRequestRepository(doc, table, 0);

afterAll(() => doc.destroy());

let nextId = Math.floor(Math.random() * 1e9) * 1000 + 500;
const arch = () => `mk${randomUUID().slice(0, 8)}`;

function pendingOn(hostArchitecture: string): WorkRequest {
  const fields = { scope: 'debusine', workspace: 'System', createdBy: 'user:alice', taskType: 'Worker', taskName: 'noop', taskData: {} } as const;
  return newWorkRequest({ id: ++nextId, ...fields, hostArchitecture, createdAt: '2026-11-22T10:00:00.000Z' });
}

async function markerOf(architecture: string): Promise<Record<string, unknown> | undefined> {
  const res = await doc.send(new GetCommand({ TableName: table, Key: { pk: CANDIDATE_MARKERS_PK, sk: markerKey('Worker', architecture) }, ConsistentRead: true }));
  return res.Item;
}

/** Counts the Queries the repository sends from here on. */
function countQueries(): () => number {
  let queries = 0;
  const name = `count-${randomUUID()}`;
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'QueryCommand') queries++;
      return next(args);
    },
    { step: 'initialize', name },
  );
  return () => {
    doc.middlewareStack.remove(name);
    return queries;
  };
}

describe('candidate markers', () => {
  it('a created pending request sets its marker; reading the partition empty clears it; a trusted snapshot then skips it', async () => {
    const a = arch();
    expect(await markerOf(a)).toBeUndefined();
    // Unknown marker: the partition is read (and found empty, the marker is created "empty").
    let snapshot = await requests.candidatePartitions();
    expect(snapshot.mayHold('Worker', a)).toBe(true);
    expect(await requests.pendingCandidates('Worker', a, 10, snapshot)).toEqual([]);
    expect((await markerOf(a))?.holds).toBe(false);

    const wr = pendingOn(a);
    await requests.commit({ create: [wr] });
    expect((await markerOf(a))?.holds).toBe(true);
    snapshot = await requests.candidatePartitions();
    expect(snapshot.mayHold('Worker', a)).toBe(true);
    expect((await requests.pendingCandidates('Worker', a, 10, snapshot)).map((r) => r.id)).toEqual([wr.id]);

    // Assigned: it leaves the partition; the next reader finds it empty and clears the marker (once the
    // window of the set sent alongside the create is over: before, its commit might still be landing).
    await requests.commit({ update: [{ workRequest: bump(wr, { worker: 'someone', assignedAt: '2026-11-22T10:00:01.000Z' }), expectedVersion: wr.version }] });
    await sleep(COMMIT_WINDOW_MS);
    snapshot = await requests.candidatePartitions();
    expect(await requests.pendingCandidates('Worker', a, 10, snapshot)).toEqual([]);
    expect((await markerOf(a))?.holds).toBe(false);

    snapshot = await requests.candidatePartitions();
    expect(snapshot.mayHold('Worker', a)).toBe(false);
    const queries = countQueries();
    expect(await requests.pendingCandidates('Worker', a, 10, snapshot)).toEqual([]);
    expect(queries()).toBe(0);
  });

  it('a clear does not win over a set made after the snapshot it is based on', async () => {
    const a = arch();
    const first = pendingOn(a);
    await requests.commit({ create: [first] });
    await requests.commit({ update: [{ workRequest: bump(first, { worker: 'someone', assignedAt: '2026-11-22T10:00:01.000Z' }), expectedVersion: first.version }] });
    const stale = await requests.candidatePartitions();
    // A request becomes pending after the snapshot, and the reader's Query (as if it ran before the
    // commit landed) found nothing: the set bumped the generation, so the clear fails.
    // Written by another process (this one's own recent set would cover it: no set, see below).
    const second = pendingOn(a);
    const genBefore = (await markerOf(a))?.gen;
    await new DynamoWorkRequestRepository(doc, table, 0).commit({ create: [second] });
    expect((await markerOf(a))?.gen).toBe(Number(genBefore ?? 0) + 1);
    await new CandidateMarkers(doc, table, 0).observed(stale as MarkerSnapshot, 'Worker', a, false);
    expect((await markerOf(a))?.holds).toBe(true);
  });

  it('a commit covered by this process\'s own set a moment ago sends no set, and no reader can clear the marker before it is found', async () => {
    const a = arch();
    // A long commit window, so that the second commit is surely within the first set's cover however slow the machine.
    const writer = new DynamoWorkRequestRepository(doc, table, 0, 60_000);
    const first = pendingOn(a);
    await writer.commit({ create: [first] });
    const afterFirst = await markerOf(a);
    await writer.commit({ update: [{ workRequest: bump(first, { worker: 'someone', assignedAt: '2026-11-22T10:00:01.000Z' }), expectedVersion: first.version }] });
    // A reader reads the markers and finds the partition empty; then a second request enters it
    // within the first set's cover: no marker write at all (same gen, same setAt) ...
    const stale = await requests.candidatePartitions();
    const second = pendingOn(a);
    await writer.commit({ create: [second] });
    expect(await markerOf(a)).toEqual(afterFirst);
    // ... yet the reader's clear is refused: its snapshot came before the stored setAt, which the
    // second commit landed before. The next reader finds the request.
    await new CandidateMarkers(doc, table, 0).observed(stale as MarkerSnapshot, 'Worker', a, false);
    expect((await markerOf(a))?.holds).toBe(true);
    const later = await requests.candidatePartitions();
    expect((await requests.pendingCandidates('Worker', a, 10, later)).map((r) => r.id)).toEqual([second.id]);
  });

  it('an untrusted snapshot reads a partition marked empty and sets the marker again when it holds work', async () => {
    const a = arch();
    const wr = pendingOn(a);
    await requests.commit({ create: [wr] });
    // A lost set (the process died between commit and set): the marker wrongly says empty.
    await doc.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: CANDIDATE_MARKERS_PK, sk: markerKey('Worker', a) },
        UpdateExpression: 'SET holds = :false',
        ExpressionAttributeValues: { ':false': false },
      }),
    );
    const trusted = await requests.candidatePartitions();
    expect(trusted.mayHold('Worker', a)).toBe(false);
    expect(await requests.pendingCandidates('Worker', a, 10, trusted)).toEqual([]);

    const untrusted = await requests.candidatePartitions({ trusted: false });
    expect(untrusted.mayHold('Worker', a)).toBe(true);
    expect((await requests.pendingCandidates('Worker', a, 10, untrusted)).map((r) => r.id)).toEqual([wr.id]);
    expect((await markerOf(a))?.holds).toBe(true);
    expect((await requests.candidatePartitions()).mayHold('Worker', a)).toBe(true);
  });

  it('with a lag margin, a marker set moments ago is not cleared (the index may not show the request yet)', async () => {
    const lagging = new DynamoWorkRequestRepository(doc, table, 60_000);
    const a = arch();
    const wr = pendingOn(a);
    await lagging.commit({ create: [wr] });
    await lagging.commit({ update: [{ workRequest: bump(wr, { worker: 'someone', assignedAt: '2026-11-22T10:00:01.000Z' }), expectedVersion: wr.version }] });
    const snapshot = await lagging.candidatePartitions();
    expect(await lagging.pendingCandidates('Worker', a, 10, snapshot)).toEqual([]);
    expect((await markerOf(a))?.holds).toBe(true);
  });
});

describe('candidate markers in a batch (a populate)', () => {
  it('commits in one batch set the marker at the first and at close; a clear between them never outlives the close', async () => {
    const a = arch();
    const batch = requests.pendingBatch();
    const first = pendingOn(a);
    await requests.commit({ create: [first], pendingBatch: batch });
    const afterFirst = await markerOf(a);
    expect(afterFirst).toMatchObject({ holds: true });
    // A reader that saw the partition empty before the second commit clears the marker after it
    // (the same gen: the second commit's set was skipped in the batch; past the first set's window,
    // as the clear rule requires)...
    await sleep(COMMIT_WINDOW_MS);
    await doc.send(new UpdateCommand({ TableName: table, Key: { pk: CANDIDATE_MARKERS_PK, sk: markerKey('Worker', a) }, UpdateExpression: 'SET holds = :f', ExpressionAttributeValues: { ':f': false } }));
    const second = pendingOn(a);
    await requests.commit({ create: [second], pendingBatch: batch });
    expect((await markerOf(a))?.gen).toBe(afterFirst?.gen); // no set per commit after the first
    // ...and the close sets it again: a pass after it reads the partition and finds both.
    await batch.close();
    expect(await markerOf(a)).toMatchObject({ holds: true, gen: Number(afterFirst?.gen) + 1 });
    const snapshot = await requests.candidatePartitions();
    expect((await requests.pendingCandidates('Worker', a, 10, snapshot)).map((r) => r.id).sort()).toEqual([first.id, second.id].sort());
  });
});
