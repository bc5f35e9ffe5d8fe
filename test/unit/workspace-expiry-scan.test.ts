/**
 * A due workspace with more work requests than one pass reads (shared/app/workspace-expiry.ts,
 * memory adapters): the scan goes on from the cursor saved on its entry, pass after pass, until it is
 * judged; an unfinished request in a later slice makes it wait; a request created mid-scan makes the
 * scan start again; the dry run says how far it got and saves nothing.
 */
import { MemoryExpiryStore } from '../../shared/adapters/memory/expiry-store';
import { runExpiryPass, type ExpiryOptions, type ExpiryReport } from '../../shared/app/expiry';
import { createWorkspace } from '../../shared/app/admin';
import type { WorkRequest } from '../../shared/domain/work-requests';
import { createWorld, type World } from '../support/world';
import { storeRequest } from '../support/stored-request';

const DELAY = 3600;
/** Requests read per pass: 25 requests take three passes to judge. */
const READ = 10;
let ctx: { world: World; store: MemoryExpiryStore };
beforeEach(async () => {
  const world = await createWorld();
  ctx = { world, store: new MemoryExpiryStore(world.deps) };
  await createWorkspace(world.deps, 'test', { name: 'tmp', expirationDelay: DELAY });
});
const deps = () => ctx.world.deps;
const pass = (opts: ExpiryOptions = {}) => runExpiryPass(deps(), ctx.store, { recheckSeconds: 600, maxWorkspaceRequestsRead: READ, ...opts });
const tick = (seconds: number) => deps().clock.advance(seconds * 1000);
const now = () => deps().clock.now().toISOString();
const exists = async () => (await deps().identity.getWorkspace('debusine', 'tmp')) !== undefined;
const request = (id: number, fields: Partial<WorkRequest> = {}): WorkRequest => storeRequest(deps(), 'tmp', id, fields);
const requestsLeft = () => [...deps().workRequests.items.values()].filter((wr) => wr.workspace === 'tmp').length;
const why = (report: ExpiryReport) => report.workspaces.waiting.map((w) => w.why);
const soFar = (n: number) => `looked at ${n} of its work requests so far, none unfinished: the next pass reads on`;

/** Requests 1..n in `tmp`, finished now. */
function requests(n: number): void {
  for (let id = 1; id <= n; id++) request(id);
}

it('a workspace with more requests than one pass reads is judged in slices, then deleted', async () => {
  requests(25);
  await deps().collections.create({ id: 60, scope: 'debusine', workspace: 'tmp', name: 'c', category: 'debian:suite', data: {}, retainsArtifacts: 'never', workflowId: null, createdAt: now(), version: 1 });
  tick(DELAY);
  const dry = await pass({ dryRun: true });
  expect(why(dry)).toEqual([soFar(10)]);

  const first = await pass();
  expect(why(first)).toEqual([soFar(10)]);
  expect(first.finished).toBe(false);
  // Still due (its check time unchanged): the next pass reads on, from the saved cursor.
  const [entry] = await ctx.store.workspaces.dueWorkspaces(now(), 10);
  expect(entry!.scan).toEqual(expect.objectContaining({ read: 10, complete: false, newest: expect.objectContaining({ id: 25 }) }));
  // The dry run goes on from there too, and saves nothing.
  expect(why(await pass({ dryRun: true }))).toEqual([soFar(20)]);
  expect(why(await pass())).toEqual([soFar(20)]);
  expect(requestsLeft()).toBe(25);

  // Judged: the trees go a slice at a time, then the workspace.
  const reports: ExpiryReport[] = [];
  while ((await exists()) && reports.length < 10) {
    reports.push(await pass());
    // The other kinds go only once no request is left.
    if (requestsLeft() > 0) expect(await deps().collections.get(60)).toBeDefined();
  }
  expect(await deps().collections.get(60)).toBeUndefined();
  expect(await exists()).toBe(false);
  expect(requestsLeft()).toBe(0);
  expect(reports.flatMap(why)).toEqual([]);
  expect(reports.flatMap((r) => r.workspaces.contents.flatMap((c) => c.workRequests)).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  expect(reports.length).toBe(3);
  expect(deps().audit.entries.filter((e) => e.action === 'workspace.expired')).toHaveLength(1);
});

it('an unfinished request found in a later slice makes it wait, and nothing of it is deleted', async () => {
  requests(25);
  request(3, { status: 'running', result: '', completedAt: null }); // listed last (oldest)
  tick(DELAY);
  expect(why(await pass())).toEqual([soFar(10)]);
  expect(why(await pass())).toEqual([soFar(20)]);
  expect(why(await pass())).toEqual(['work request 3 is unfinished (running)']);
  expect(requestsLeft()).toBe(25);
  expect(await exists()).toBe(true);
  // Looked at again a recheck delay later, from the start (the scan is dropped).
  expect(await ctx.store.workspaces.dueWorkspaces(now(), 10)).toEqual([]);
  const [later] = await ctx.store.workspaces.dueWorkspaces('9999', 10);
  expect(later!.scan).toBeUndefined();
});

it('a request created mid-scan makes the scan start again: an unfinished one makes it wait', async () => {
  requests(25);
  tick(DELAY);
  expect(why(await pass())).toEqual([soFar(10)]);
  request(26, { status: 'pending', result: '', completedAt: null });
  expect(why(await pass())).toEqual(['work request 26 is unfinished (pending)']);
  expect(requestsLeft()).toBe(26);
  expect(await exists()).toBe(true);
});

it('a finished request created mid-scan restarts the scan, and moves the workspace to its finish + delay', async () => {
  requests(25);
  tick(DELAY);
  expect(why(await pass())).toEqual([soFar(10)]);
  expect(why(await pass())).toEqual([soFar(20)]);
  tick(100);
  request(26); // finished now: the workspace is due again DELAY from now
  expect(why(await pass())).toEqual([soFar(10)]);
  expect(why(await pass())).toEqual([soFar(20)]);
  expect(why(await pass())).toEqual([]);
  expect(await exists()).toBe(true);
  expect(requestsLeft()).toBe(26);
  const [entry] = await ctx.store.workspaces.dueWorkspaces('9999', 10);
  expect(entry!.checkAt).toBe(new Date(Date.parse(now()) + DELAY * 1000).toISOString());
  expect(entry!.scan).toBeUndefined();
});

it('a scan whose newest request was deleted meanwhile goes on (nothing new was created)', async () => {
  requests(25);
  tick(DELAY);
  expect(why(await pass())).toEqual([soFar(10)]);
  deps().workRequests.items.delete(25);
  expect(why(await pass())).toEqual([soFar(20)]);
});
