/**
 * Debusine's integer worker ids. Its client models want `worker` in a work request to be the
 * worker's id, while Conveyor keys workers (and work requests' `worker`) by name: responses look
 * the ids up here. Workers registered before ids existed get the next one on first lookup.
 */
import { ConflictError } from '../domain/errors';
import { ignoreConflict } from './concurrency';
import type { Worker } from '../domain/workers';
import type { Deps } from '../ports';

export type WorkerIds = ReadonlyMap<string, number>;

/** Id by name for the given worker names (nulls and unknown names are left out). */
export async function workerIdsOf(deps: Deps, names: readonly (string | null)[]): Promise<WorkerIds> {
  const wanted = new Set(names.filter((n): n is string => n !== null));
  if (wanted.size === 0) return new Map();
  // One worker: one read; several: the worker lists (small sets: enabled and disabled are indexed
  // apart, and a request may have run on a worker that is disabled now) in two queries.
  const workers =
    wanted.size === 1
      ? [await deps.workers.get([...wanted][0]!)].filter((w): w is Worker => w !== undefined)
      : [...(await deps.workers.list()), ...(await deps.workers.listDisabled())].filter((w) => wanted.has(w.name));
  const ids = new Map<string, number>();
  for (const worker of workers) ids.set(worker.name, worker.id ?? (await assignWorkerId(deps, worker)));
  return ids;
}

/** Gives a worker without an id the next one; a racing caller that won first keeps its id. */
export async function assignWorkerId(deps: Deps, worker: Worker): Promise<number> {
  let current: Worker | undefined = worker;
  for (let attempt = 0; attempt < 5 && current; attempt++) {
    if (current.id !== undefined) return current.id;
    const id = await deps.sequences.next('worker');
    try {
      await deps.workers.update({ ...current, id, version: current.version + 1 }, current.version);
      return id;
    } catch (err) {
      ignoreConflict(err); // lost the race: look again
      current = await deps.workers.get(worker.name);
    }
  }
  throw new ConflictError('Busy', `worker ${worker.name} changed too often to give it an id; try again`);
}
