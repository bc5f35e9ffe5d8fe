/**
 * The workspace step of the expiry pass on the memory adapters: `expiration_delay` set and checked
 * (problem 400 naming the field), the index entry (creation + delay, moved to last finish + delay),
 * never due while a request is unfinished, what is deleted (role grants, then the row; audit), the
 * dry run and the CLI text. Its contents: test/unit/workspace-contents-expiry.test.ts.
 */
import { MemoryExpiryStore } from '../../shared/adapters/memory/expiry-store';
import { runExpiryPass, type ExpiryOptions } from '../../shared/app/expiry';
import { createWorkspace, grantRole, updateWorkspace } from '../../shared/app/admin';
import { expiryReportText } from '../../cli/admin/expire';
import type { WorkRequest } from '../../shared/domain/work-requests';
import { ValidationError } from '../../shared/domain/errors';
import { createWorld, type World } from '../support/world';
import { storeRequest } from '../support/stored-request';

const DELAY = 3600;
/** A fresh world per test, with the expiry store over its memory repositories. */
let ctx: { world: World; store: MemoryExpiryStore };
beforeEach(async () => {
  const world = await createWorld();
  ctx = { world, store: new MemoryExpiryStore(world.deps) };
});
const deps = () => ctx.world.deps;
const store = { get workspaces() { return ctx.store.workspaces; } };
const pass = (opts: ExpiryOptions = {}) => runExpiryPass(deps(), ctx.store, { recheckSeconds: 600, ...opts });
const tick = (seconds: number) => deps().clock.advance(seconds * 1000);
const now = () => deps().clock.now().toISOString();
const exists = async (name: string) => (await deps().identity.getWorkspace('debusine', name)) !== undefined;

/** A request in workspace `tmp`, finished unless told otherwise, straight into the memory repository. */
const request = (id: number, fields: Partial<WorkRequest> = {}): WorkRequest => storeRequest(deps(), 'tmp', id, fields);

describe('workspace expiration_delay', () => {
  it('is set on create and update, stored and shown; a bad value is a 400 naming the field and changes nothing', async () => {
    const ws = await createWorkspace(deps(), 'test', { name: 'tmp', expirationDelay: DELAY });
    expect(ws.expirationDelay).toBe(DELAY);
    expect((await deps().identity.getWorkspace('debusine', 'tmp'))!.expirationDelay).toBe(DELAY);
    const bad = await updateWorkspace(deps(), 'test', { name: 'tmp', expirationDelay: -1 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect(Object.keys((bad as ValidationError).fieldErrors)).toEqual(['expiration_delay']);
    await expect(createWorkspace(deps(), 'test', { name: 'tmp2', expirationDelay: 1.5 })).rejects.toThrow(ValidationError);
    expect(await exists('tmp2')).toBe(false);
    expect((await updateWorkspace(deps(), 'test', { name: 'tmp', expirationDelay: 0 })).expirationDelay).toBe(0);
    expect((await updateWorkspace(deps(), 'test', { name: 'tmp', public: true })).expirationDelay).toBe(0);
  });
});

describe('workspace expiry', () => {
  it('a workspace that never ran anything goes its delay after creation: grants first, the row last, audited', async () => {
    await createWorkspace(deps(), 'test', { name: 'tmp', expirationDelay: DELAY });
    await grantRole(deps(), 'test', { workspace: 'tmp', username: 'owner', role: 'owner' });
    tick(DELAY - 1);
    expect((await pass()).workspaces).toEqual({ deleted: [], waiting: [], contents: [], finished: true });
    expect(await store.workspaces.dueWorkspaces(now(), 10)).toEqual([]);
    tick(1);
    const dry = await pass({ dryRun: true });
    expect(dry.workspaces.deleted).toEqual([{ scope: 'debusine', workspace: 'tmp' }]);
    expect(await exists('tmp')).toBe(true);
    expect(expiryReportText(dry)).toContain('Workspaces past their expiration delay that would be deleted: debusine/tmp');
    expect((await pass()).workspaces.deleted).toEqual([{ scope: 'debusine', workspace: 'tmp' }]);
    expect(await exists('tmp')).toBe(false);
    expect(await deps().identity.listRoles('debusine', 'tmp')).toEqual([]);
    expect(await store.workspaces.dueWorkspaces('9999', 10)).toEqual([]);
    expect(deps().audit.entries.filter((e) => e.action === 'workspace.expired').map((e) => e.details)).toEqual([expect.objectContaining({ scope: 'debusine', workspace: 'tmp', expiration_delay: DELAY })]);
    // Others, without a delay, are not in the index at all.
    expect(await exists('priv')).toBe(true);
  });

  it('is due its delay after the last root finished: an early entry moves there, and the passes in between read nothing', async () => {
    await createWorkspace(deps(), 'test', { name: 'tmp', expirationDelay: DELAY });
    tick(DELAY - 100);
    request(1); // finishes now
    tick(100);
    expect((await pass()).workspaces.deleted).toEqual([]);
    expect(await store.workspaces.dueWorkspaces(now(), 10)).toEqual([]);
    expect((await store.workspaces.dueWorkspaces('9999', 10))[0]!.checkAt).toBe(new Date(Date.parse(now()) - 100_000 + DELAY * 1000).toISOString());
    tick(DELAY - 100);
    // Past the delay: its finished request goes with it (test/unit/workspace-contents-expiry.test.ts has the rest).
    const report = await pass();
    expect(report.workspaces.waiting).toEqual([]);
    expect(report.workspaces.contents).toEqual([expect.objectContaining({ workspace: 'tmp', workRequests: [1] })]);
    expect(report.workspaces.deleted).toEqual([{ scope: 'debusine', workspace: 'tmp' }]);
    expect(deps().workRequests.items.has(1)).toBe(false);
  });

  it('is never due while a request in it is unfinished', async () => {
    await createWorkspace(deps(), 'test', { name: 'tmp', expirationDelay: DELAY });
    request(1, { status: 'running', result: '', completedAt: null });
    tick(10 * DELAY);
    const report = await pass();
    expect(report.workspaces.waiting).toEqual([{ scope: 'debusine', workspace: 'tmp', why: 'work request 1 is unfinished (running)' }]);
    expect(await exists('tmp')).toBe(true);
    // Looked at again a recheck delay later, not every pass.
    expect(await store.workspaces.dueWorkspaces(now(), 10)).toEqual([]);
  });

  it('removing the delay takes it out of the index: it stays, with its contents', async () => {
    await createWorkspace(deps(), 'test', { name: 'tmp', expirationDelay: DELAY });
    await deps().collections.create({ id: 60, scope: 'debusine', workspace: 'tmp', name: 'c', category: 'debian:suite', data: {}, retainsArtifacts: 'never', workflowId: null, createdAt: now(), version: 1 });
    await updateWorkspace(deps(), 'test', { name: 'tmp', expirationDelay: null });
    tick(DELAY);
    expect(await store.workspaces.dueWorkspaces('9999', 10)).toEqual([]);
    expect((await pass()).workspaces).toEqual({ deleted: [], waiting: [], contents: [], finished: true });
    expect(await exists('tmp')).toBe(true);
    expect(await deps().collections.get(60)).toBeDefined();
  });

  it('a row changed between the read and the delete stays (conditional on its version); the entry brings it back', async () => {
    const ws = await createWorkspace(deps(), 'test', { name: 'tmp', expirationDelay: DELAY });
    tick(DELAY);
    expect(await store.workspaces.deleteWorkspace({ ...ws, version: ws.version + 5 })).toBe(false);
    expect(await exists('tmp')).toBe(true);
    // A pass cut before the workspace step leaves it due for the next one.
    const cut = await pass({ deadline: 0 });
    expect(cut.finished).toBe(false);
    expect(await exists('tmp')).toBe(true);
    expect((await pass()).workspaces.deleted).toEqual([{ scope: 'debusine', workspace: 'tmp' }]);
  });
});
