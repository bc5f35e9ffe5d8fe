import { durationSeconds, effectivePriority, type WorkRequest } from '../domain/work-requests';
import { formatRunNumber } from '../domain/workflows';
import type { Artifact, ArtifactRelation } from '../domain/artifacts';
import { snakeCaseFields } from '../domain/fields';
import type { ArtifactWithFiles } from '../ports';
import { filesToUpload } from '../app/artifacts';
import type { UploadPlan } from '../app/uploads';
import type { WorkerIds } from '../app/worker-ids';

export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Debusine's artifact shape, plus Conveyor's `complete`, `immutable`, `created_by`, `updated_at`. */
export function artifactJson({ artifact, files }: ArtifactWithFiles, baseUrl: string) {
  const self = `${baseUrl}/api/1.0/artifact/${artifact.id}/`;
  return {
    ...artifactSummaryJson(artifact, baseUrl),
    files_to_upload: filesToUpload(files),
    files: Object.fromEntries(
      [...files]
        .sort((a, b) => (a.path < b.path ? -1 : 1))
        .map((f) => [
          f.path,
          {
            type: 'file',
            size: f.size,
            checksums: { sha256: f.sha256 },
            content_type: f.contentType ?? null,
            complete: f.complete,
            url: `${self}files/${encodePath(f.path)}/`,
            ...(f.upload?.verifying ? { verifying: true } : {}),
            ...(f.upload?.lastError ? { upload_error: f.upload.lastError } : {}),
          },
        ]),
    ),
  };
}

export function artifactSummaryJson(artifact: Artifact, baseUrl: string) {
  const self = `${baseUrl}/api/1.0/artifact/${artifact.id}/`;
  return {
    id: artifact.id,
    url: self,
    ...snakeCaseFields(artifact, ['scope', 'workspace', 'category', 'data', 'createdAt', 'updatedAt', 'createdBy', 'expireAt', 'immutable']),
    complete: artifact.incompleteFiles === 0,
    download_tar_gz_url: `${self}download/?archive=tar.gz`,
  };
}

export function relationJson(r: ArtifactRelation) {
  return { id: r.id, artifact: r.artifact, target: r.target, type: r.type };
}

export function uploadPlanJson(plan: UploadPlan) {
  if (plan.complete) return { complete: true };
  if ('verifying' in plan) return { complete: false, verifying: true };
  if (plan.method === 'single') return { complete: false, method: 'single', url: plan.url, headers: plan.headers };
  return {
    complete: false,
    method: 'multipart',
    upload_id: plan.uploadId,
    part_size: plan.partSize,
    parts: plan.parts.map((p) => ({ part_number: p.partNumber, size: p.size, url: p.url, uploaded: p.uploaded, etag: p.etag ?? null })),
  };
}

/**
 * Debusine's work-request shape, plus Conveyor's heartbeat, logtail, retry and supersession fields,
 * and for root workflows the REANA-style run (`{name, number: "1.2", status}`) and the id of the
 * internal collection (both null otherwise). `worker` is the worker's integer id (Debusine's
 * models require one); `worker_name` names it.
 */
export function workRequestJson(wr: WorkRequest, baseUrl: string, workerIds: WorkerIds = new Map()) {
  return {
    id: wr.id,
    url: `${baseUrl}/api/1.0/work-request/${wr.id}/`,
    ...snakeCaseFields(wr, ['taskName', 'taskType', 'taskData', 'dynamicTaskData', 'status', 'result']),
    worker: wr.worker === null ? null : (workerIds.get(wr.worker) ?? null),
    worker_name: wr.worker,
    ...snakeCaseFields(wr, ['createdAt', 'createdBy', 'abortedBy', 'startedAt', 'completedAt']),
    // Whole seconds: Debusine's models declare an int.
    duration: wholeSeconds(durationSeconds(wr)),
    ...snakeCaseFields(wr, ['priorityBase', 'priorityAdjustment']),
    effective_priority: effectivePriority(wr),
    ...snakeCaseFields(wr, ['parent', 'dependencies', 'workflowData', 'eventReactions', 'outputData', 'retryCount', 'supersedes', 'supersededBy']),
    artifacts: wr.outputArtifacts,
    ...snakeCaseFields(wr, ['scope', 'workspace', 'heartbeatAt', 'logtail']),
    run: wr.run ? { name: wr.run.name, number: formatRunNumber(wr.run), status: wr.run.status } : null,
    internal_collection: wr.internalCollection ?? null,
  };
}

function wholeSeconds(seconds: number | null): number | null {
  return seconds === null ? null : Math.round(seconds);
}
