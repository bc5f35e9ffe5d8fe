/**
 * Candidate markers set alongside the pending write (shared/adapters/dynamodb/candidate-markers.ts)
 * against DynamoDB Local: a reader that queries the partition while the write is still in flight
 * cannot clear the marker, and the request is found by the next reader; a write answered after the
 * window sets the marker again; and a workflow child's completion reaches its dependent's pending
 * write in 3 sequential round trips (the marker set no longer one of its own, the dependents listed alongside
 * the request's own read).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CANDIDATE_MARKERS_PK, COMMIT_WINDOW_MS, markerKey } from '../../shared/adapters/dynamodb/candidate-markers';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { generateTokenKey } from '../../shared/app/admin';
import { authenticate } from '../../shared/app/auth';
import { initDatabase } from '../../shared/app/bootstrap';
import { completeWorkRequest, enableWorker, registerWorker } from '../../shared/app/workers';
import { bump, newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';
import type { Deps } from '../../shared/ports';
import { sequentialSteps, tracedDeps } from '../../bench/completion-trace';
import type { Call } from '../../bench/dispatch-trace';

jest.setTimeout(60_000);

const table = process.env.CONVEYOR_TABLE_MAIN!;
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
afterAll(() => doc.destroy());

let nextId = Math.floor(Math.random() * 1e9) * 1000 + 700;
const arch = () => `ma${randomUUID().slice(0, 8)}`;
const fields = { scope: 'debusine', workspace: 'System', createdBy: 'user:alice', taskType: 'Worker', taskName: 'noop', taskData: {}, createdAt: '2026-12-06T10:00:00.000Z' } as const;

async function markerOf(architecture: string): Promise<Record<string, unknown> | undefined> {
  const res = await doc.send(new GetCommand({ TableName: table, Key: { pk: CANDIDATE_MARKERS_PK, sk: markerKey('Worker', architecture) }, ConsistentRead: true }));
  return res.Item;
}

/** A document client whose Put of request `id` waits for `release()` (the pending write in flight). */
function holdingWriteOf(id: number) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const held = new Proxy(doc, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
      return async (command: { input?: { Item?: { id?: unknown } } }) => {
        if (command instanceof PutCommand && command.input.Item?.id === id) await released;
        return target.send(command as never);
      };
    },
  });
  return { held, release };
}

/** Polls until the marker of `architecture` says "may hold" (its set, sent alongside the held write, landed). */
async function markerSet(architecture: string): Promise<void> {
  for (let i = 0; i < 200 && (await markerOf(architecture))?.holds !== true; i++) await sleep(5);
}

describe('a marker set alongside its pending write', () => {
  /** No lag margin, as on the local stack. */
  const reader = new DynamoWorkRequestRepository(doc, table, 0);

  async function blockedKnownEmpty(): Promise<{ a: string; wr: WorkRequest }> {
    const a = arch();
    const wr = newWorkRequest({ id: ++nextId, ...fields, hostArchitecture: a, status: 'blocked' });
    await reader.commit({ create: [wr] });
    // A reader found the partition empty: the marker says so.
    expect(await reader.pendingCandidates('Worker', a, 10, await reader.candidatePartitions())).toEqual([]);
    expect((await markerOf(a))?.holds).toBe(false);
    return { a, wr };
  }

  it('is not cleared by a reader whose Query ran before the write landed; the next reader finds the request', async () => {
    const { a, wr } = await blockedKnownEmpty();
    const { held, release } = holdingWriteOf(wr.id);
    // A window longer than this test on a loaded machine (the default one would be over before the reader reads).
    const writer = new DynamoWorkRequestRepository(held, table, 0, 60_000);
    const committing = writer.commit({ update: [{ workRequest: bump(wr, { status: 'pending' }), expectedVersion: wr.version }] });
    await markerSet(a);
    const snapshot = await reader.candidatePartitions();
    expect(snapshot.mayHold('Worker', a)).toBe(true);
    expect(await reader.pendingCandidates('Worker', a, 10, snapshot)).toEqual([]); // the write has not landed
    expect((await markerOf(a))?.holds).toBe(true); // its clear was refused
    release();
    await committing;
    expect((await reader.pendingCandidates('Worker', a, 10, await reader.candidatePartitions())).map((r) => r.id)).toEqual([wr.id]);
  });

  it('answered after its window: a reader may clear it meanwhile, and the writer sets it again once the write landed', async () => {
    const { a, wr } = await blockedKnownEmpty();
    const { held, release } = holdingWriteOf(wr.id);
    const writer = new DynamoWorkRequestRepository(held, table, 0, 20); // a 20 ms window
    const committing = writer.commit({ update: [{ workRequest: bump(wr, { status: 'pending' }), expectedVersion: wr.version }] });
    await markerSet(a);
    await sleep(40);
    expect(await reader.pendingCandidates('Worker', a, 10, await reader.candidatePartitions())).toEqual([]);
    expect((await markerOf(a))?.holds).toBe(false); // past the window: the clear went through
    release();
    await committing;
    expect((await markerOf(a))?.holds).toBe(true); // set again after the write
    expect((await reader.pendingCandidates('Worker', a, 10, await reader.candidatePartitions())).map((r) => r.id)).toEqual([wr.id]);
  });
});

describe("a workflow child's completion", () => {
  let base: Deps;
  const calls: Call[] = [];
  beforeAll(async () => {
    base = tracedDeps(process.env as Record<string, string>, calls);
    await initDatabase(base);
  });

  it("reaches its dependent's pending write in 3 sequential round trips: the marker set is sent alongside that write, not after it", async () => {
    const tokenKey = generateTokenKey();
    const worker = await registerWorker(base, { tokenKey, fqdn: `marker-${randomUUID().slice(0, 8)}.lan`, concurrency: 1 });
    await enableWorker(base, 'test', worker.name);
    const caller = await authenticate(base, tokenKey);
    const [a, b] = [arch(), arch()];
    const root = newWorkRequest({ ...fields, id: ++nextId, taskType: 'Workflow', taskName: 'noop-graph', status: 'running' });
    const first = newWorkRequest({ ...fields, id: ++nextId, parent: root.id, hostArchitecture: a, taskData: { result: true } });
    const second = newWorkRequest({ ...fields, id: ++nextId, parent: root.id, hostArchitecture: b, status: 'blocked', dependencies: [first.id], taskData: { result: true } });
    await base.workRequests.commit({ create: [root] });
    await base.workRequests.commit({ create: [first, second], addReverseDependencies: [{ dependency: first.id, dependent: second.id }] });
    // The first child assigned to the worker (its slot taken) and running.
    const now = new Date().toISOString();
    const running = bump(first, { worker: worker.name, assignedAt: now, status: 'running', startedAt: now, heartbeatAt: now });
    await base.workRequests.commit({ update: [{ workRequest: running, expectedVersion: first.version }], slots: [{ worker: worker.name, delta: 1, workRequestId: first.id }] });

    let pendingAt = Number.NaN;
    const deps: Deps = {
      ...base,
      workRequests: new Proxy(base.workRequests, {
        get(obj, prop, receiver) {
          if (prop !== 'commit') return Reflect.get(obj, prop, receiver) as unknown;
          return async (changes: Parameters<Deps['workRequests']['commit']>[0]) => {
            await obj.commit(changes);
            if (changes.update?.some((u) => u.workRequest.id === second.id && u.workRequest.status === 'pending')) pendingAt = performance.now();
          };
        },
      }),
    };
    calls.length = 0;
    const t0 = performance.now();
    await completeWorkRequest(deps, caller, first.id, { result: 'success' });
    expect((await base.workRequests.get(second.id))?.status).toBe('pending');
    expect((await markerOf(b))?.holds).toBe(true);

    // The dependent's write, and the marker set under way with it (it used to come after it: one more round trip).
    const write = calls.filter((c) => c.command === 'PutItem' && c.end <= pendingAt).at(-1)!;
    expect(calls.some((c) => c.command === 'UpdateItem' && c.start < write.end && c.end > write.start)).toBe(true);
    // Nothing after the write before the commit is acknowledged, unless the write was answered after the set's
    // window (a loaded machine): then the marker is set once more after it.
    const afterWrite = calls.filter((c) => c.start >= write.end && c.end <= pendingAt);
    if (afterWrite.length > 0) {
      expect(afterWrite.map((c) => c.command)).toEqual(['UpdateItem']);
      expect(write.end - write.start).toBeGreaterThan(COMMIT_WINDOW_MS / 2);
    }
    // So the acknowledgement is in the write's own round trip: 3 from the completion's start (the request
    // and its dependents' listing, then the finish and the read-ahead BatchGetItem, then the write; the chain is
    // read from the requests' times: a slow request can let unrelated ones line up and add one).
    const toWrite = sequentialSteps(calls, t0, write.end);
    expect(sequentialSteps(calls, t0, pendingAt)).toHaveLength(toWrite.length + afterWrite.length);
    expect(toWrite.length).toBeLessThanOrEqual(4);
    expect(toWrite[0]).toEqual(expect.arrayContaining(['GetItem', 'Query']));
  });
});
