/**
 * Machines are workers (SPEC §5, reference/launchpad_reana.md §A.6): admins set a worker ONLINE,
 * OFFLINE (reason STOPPED) or QUIESCING; a QUIESCING worker that asks for work with nothing left to
 * run goes OFFLINE (reason QUIESCED). Every change is a conditional write of the worker (its version)
 * and an event in the worker's event log. The scheduler gives no new work to a machine that is not
 * ONLINE (shared/app/scheduler.ts); its concurrency is the machine's worker_limit.
 */
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../domain/errors';
import { setOffline, setOnline, setQuiescing, shouldLookForJob, type MachineChange, type MachineStatus } from '../domain/machines';
import type { RecurringJobEvent } from '../domain/recurring-jobs';
import type { Worker } from '../domain/workers';
import type { Deps, Page } from '../ports';
import { callerId, isAdmin, requireUser, type Caller } from './auth';

export const MACHINE_ACTIONS = ['online', 'offline', 'quiesce'] as const;
export type MachineAction = (typeof MACHINE_ACTIONS)[number];

export function machineStatus(w: Worker): MachineStatus {
  return { name: w.name, state: w.machineState ?? 'ONLINE', offlineReason: w.offlineReason ?? null, heartbeat: w.lastSeenAt };
}

async function writeMachine(deps: Deps, worker: Worker, change: MachineChange): Promise<Worker> {
  const updated: Worker = { ...worker, machineState: change.machine.state, offlineReason: change.machine.offlineReason, version: worker.version + 1 };
  await deps.workers.update(updated, worker.version);
  if (change.events.length && deps.machineEventLog) await deps.machineEventLog.appendMachineEvents(worker.name, change.events);
  return updated;
}

/** Admins only: online (from OFFLINE or QUIESCING), offline (STOPPED), quiesce (from ONLINE). */
export async function changeMachineState(deps: Deps, caller: Caller, name: string, action: unknown, message?: unknown): Promise<Worker> {
  requireUser(caller);
  if (!isAdmin(caller)) throw new ForbiddenError('Permission denied', 'only an admin changes the state of a worker');
  return setMachineState(deps, callerId(caller)!, name, action, message);
}

/** The change itself, by `person` (the admin CLI passes its actor; the API an admin caller). */
export async function setMachineState(deps: Deps, person: string, name: string, action: unknown, message?: unknown): Promise<Worker> {
  if (typeof action !== 'string' || !(MACHINE_ACTIONS as readonly string[]).includes(action)) {
    throw ValidationError.field('action', `must be one of ${MACHINE_ACTIONS.join(', ')}`);
  }
  if (message !== undefined && (typeof message !== 'string' || message.length > 1000)) throw ValidationError.field('message', 'must be a string of at most 1000 characters');
  const worker = await deps.workers.get(name);
  if (!worker) throw new NotFoundError('Worker not found', `no worker named "${name}"`);
  const now = deps.clock.now();
  const text = message as string | undefined;
  const m = machineStatus(worker);
  const change = action === 'online' ? setOnline(m, now, person, text) : action === 'offline' ? setOffline(m, 'STOPPED', now, person, text) : setQuiescing(m, person, now, text);
  const updated = await writeMachine(deps, worker, change);
  // A QUIESCING worker with nothing to finish goes OFFLINE at once.
  if (updated.machineState === 'QUIESCING') return machineAskedForWork(deps, updated);
  return updated;
}

/**
 * The worker asked for work (get-next): Launchpad's shouldLookForJob, which takes a QUIESCING machine
 * with no running or assigned request OFFLINE with reason QUIESCED. A lost race is left to the next ask.
 */
export async function machineAskedForWork(deps: Deps, worker: Worker): Promise<Worker> {
  if (worker.machineState !== 'QUIESCING') return worker;
  const active = await deps.workRequests.activeForWorker(worker.name);
  const change = shouldLookForJob(machineStatus(worker), active.length, worker.concurrency, deps.clock.now());
  if (change.machine.state === worker.machineState) return worker;
  try {
    return await writeMachine(deps, worker, change);
  } catch (err) {
    if (err instanceof ConflictError) return worker;
    throw err;
  }
}

export async function machineEvents(deps: Deps, caller: Caller, name: string, limit: number, cursor?: string): Promise<Page<RecurringJobEvent>> {
  requireUser(caller);
  if (!(await deps.workers.get(name))) throw new NotFoundError('Worker not found', `no worker named "${name}"`);
  if (!deps.recurringJobs) return { items: [] };
  return deps.recurringJobs.machineEvents(name, limit, cursor);
}
