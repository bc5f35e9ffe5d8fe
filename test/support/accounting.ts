/** Fixtures for the accounting tests: artifacts with complete files and finished requests, written straight to the repositories. */
import type { Artifact } from '../../shared/domain/artifacts';
import { newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';
import { artifactEvent } from '../../shared/app/accounting';
import type { AccountingEvent, Deps, StoredFile } from '../../shared/ports';

export const fileOf = (n: number, size: number): StoredFile => ({ path: `f${n}`, sha256: n.toString(16).padStart(64, '0'), size, complete: true });

export async function storeArtifact(deps: Deps, id: number, owner: string, files: StoredFile[], workspace = 'priv'): Promise<Artifact> {
  const now = deps.clock.now().toISOString();
  const artifact: Artifact = {
    id,
    scope: 'debusine',
    workspace,
    category: 'testing',
    data: {},
    createdAt: now,
    updatedAt: now,
    createdBy: `user:${owner}`,
    expireAt: null,
    immutable: false,
    incompleteFiles: 0,
    version: 1,
  };
  // Complete files claim stored bytes: store them first, as a verified upload would have.
  for (const f of files.filter((file) => file.complete)) {
    if (!(await deps.artifacts.isBlobStored(f.sha256, f.size))) {
      await deps.artifacts.claimBlobForUpload(f.sha256, f.size, now);
      await deps.artifacts.markBlobStored(f.sha256, f.size, now);
    }
  }
  await deps.artifacts.create(artifact, files);
  return artifact;
}

export async function storeFinishedRequest(deps: Deps, id: number, owner: string, runMs: number, workspace = 'priv'): Promise<WorkRequest> {
  const started = new Date(Date.UTC(2026, 0, 1));
  const wr = newWorkRequest({
    id,
    scope: 'debusine',
    workspace,
    createdBy: `user:${owner}`,
    taskType: 'Worker',
    taskName: 'noop',
    taskData: {},
    createdAt: started.toISOString(),
    status: 'completed',
    result: 'success',
    startedAt: started.toISOString(),
    completedAt: new Date(started.getTime() + runMs).toISOString(),
  });
  await deps.workRequests.commit({ create: [wr] });
  return wr;
}

/** Deletes the artifact at `pick` (modulo) of `live` (removing it there) and returns its accounting event. */
export async function deleteOneOf(deps: Deps, live: number[], pick: number): Promise<AccountingEvent> {
  const id = live.splice(pick % live.length, 1)[0]!;
  const found = (await deps.artifacts.get(id))!;
  await deps.artifacts.delete(found.artifact);
  return artifactEvent(found.artifact);
}

/**
 * Stores an artifact holding the numbered files (file n always has the same size: it is the same
 * content), adds it to `live` and returns its accounting event.
 */
export async function storeOneOf(deps: Deps, live: number[], id: number, owner: string, fileNumbers: number[], workspace: string): Promise<AccountingEvent> {
  const artifact = await storeArtifact(deps, id, owner, [...new Set(fileNumbers)].map((n) => fileOf(n, 10 + n * 7)), workspace);
  live.push(artifact.id);
  return artifactEvent(artifact);
}
