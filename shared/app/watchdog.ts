/**
 * The watchdog (a schedule): reclaims requests from workers that went quiet and asks the
 * orchestrator to reconcile quiet running workflows.
 */
import { bump } from '../domain/work-requests';
import { isConnected } from '../domain/workers';
import { ORPHANED_SLOT_AFTER_MS } from '../domain/free-slots';
import type { Deps } from '../ports';
import { rootWorkflowOf } from './acting-as';
import { ignoreConflict } from './concurrency';
import { reclaim } from './lifecycle';

export const DEFAULT_STALE_AFTER_MS = 300_000;

/**
 * The watchdog: running requests without a heartbeat for `staleAfterMs` are reclaimed and their
 * worker is marked disconnected (it evidently stopped talking); requests assigned to a
 * disconnected worker that never started go back to the queue.
 */
export async function reclaimStale(deps: Deps, opts: { staleAfterMs?: number } = {}): Promise<number[]> {
  const staleAfterMs = opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const now = deps.clock.now();
  const before = new Date(now.getTime() - staleAfterMs).toISOString();
  const reclaimed: number[] = [];
  const lostWorkers = new Set<string>();
  for (const wr of await deps.workRequests.staleRunning(before, 100)) {
    const fresh = await deps.workRequests.get(wr.id);
    if (!fresh || fresh.status !== 'running' || (fresh.heartbeatAt ?? fresh.startedAt ?? '') >= before) continue;
    try {
      await reclaim(deps, fresh, `no heartbeat from worker ${fresh.worker} for ${Math.round(staleAfterMs / 1000)} s`);
      reclaimed.push(fresh.id);
      if (fresh.worker) lostWorkers.add(fresh.worker);
    } catch (err) {
      ignoreConflict(err);
    }
  }
  for (const name of lostWorkers) {
    const w = await deps.workers.get(name);
    if (w && w.connectedAt !== null && (w.lastSeenAt ?? '') < before) {
      await deps.workers.update({ ...w, connectedAt: null, version: w.version + 1 }, w.version).catch(ignoreConflict);
    }
  }
  for (const w of await deps.workers.list()) {
    if (w.assigned === 0 || isConnected(w, now)) continue;
    for (const wr of await deps.workRequests.activeForWorker(w.name)) {
      if (wr.status !== 'pending') continue;
      await deps.workRequests
        .commit({
          update: [{ workRequest: bump(wr, { worker: null, assignedAt: null }), expectedVersion: wr.version }],
          slots: [{ worker: w.name, delta: -1, workRequestId: wr.id }],
        })
        .then(() => deps.queues.enqueueSchedulerEvent({ type: 'work-request-pending', workRequestId: wr.id }), ignoreConflict);
    }
  }
  // Slots left taken by a commit written in two steps whose function died between the writes.
  const released = await deps.workRequests.releaseOrphanedSlots(new Date(now.getTime() - ORPHANED_SLOT_AFTER_MS).toISOString());
  if (reclaimed.length || released > 0) await deps.queues.enqueueSchedulerEvent({ type: 'periodic' });
  return reclaimed;
}

/** How long a running workflow may go without the watchdog checking it is not stuck. */
export const WORKFLOW_RECONCILE_AFTER_MS = 5 * 60_000;

/**
 * Completing a request and settling what depends on it are separate writes: if a function dies
 * between them, a workflow could wait for ever. The watchdog asks the orchestrator to reconcile
 * running workflows started more than five minutes ago (the orchestrator re-reads their children
 * and settles or completes what it can; for a healthy workflow that changes nothing).
 */
export async function reconcileWorkflows(deps: Deps, opts: { quietAfterMs?: number; limit?: number } = {}): Promise<number[]> {
  const before = new Date(deps.clock.now().getTime() - (opts.quietAfterMs ?? WORKFLOW_RECONCILE_AFTER_MS)).toISOString();
  const ids: number[] = [];
  for (const wf of await deps.workRequests.runningWorkflows(before, opts.limit ?? 25)) {
    const root = (await rootWorkflowOf(deps, wf)) ?? wf;
    await deps.queues.enqueueOrchestration({ rootId: root.id, kind: 'reconcile', workRequestId: wf.id });
    ids.push(wf.id);
  }
  return ids;
}
