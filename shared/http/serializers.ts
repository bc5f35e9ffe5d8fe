import { durationSeconds, effectivePriority, type WorkRequest } from '../domain/work-requests';
import { formatRunNumber } from '../domain/workflows';
import type { Artifact, ArtifactRelation } from '../domain/artifacts';
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
    scope: artifact.scope,
    workspace: artifact.workspace,
    category: artifact.category,
    data: artifact.data,
    created_at: artifact.createdAt,
    updated_at: artifact.updatedAt,
    created_by: artifact.createdBy,
    expire_at: artifact.expireAt,
    immutable: artifact.immutable,
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
    task_name: wr.taskName,
    task_type: wr.taskType,
    task_data: wr.taskData,
    dynamic_task_data: wr.dynamicTaskData,
    status: wr.status,
    result: wr.result,
    worker: wr.worker === null ? null : (workerIds.get(wr.worker) ?? null),
    worker_name: wr.worker,
    created_at: wr.createdAt,
    created_by: wr.createdBy,
    aborted_by: wr.abortedBy,
    started_at: wr.startedAt,
    completed_at: wr.completedAt,
    // Whole seconds: Debusine's models declare an int.
    duration: wholeSeconds(durationSeconds(wr)),
    priority_base: wr.priorityBase,
    priority_adjustment: wr.priorityAdjustment,
    effective_priority: effectivePriority(wr),
    parent: wr.parent,
    dependencies: wr.dependencies,
    workflow_data: wr.workflowData,
    event_reactions: wr.eventReactions,
    output_data: wr.outputData,
    retry_count: wr.retryCount,
    supersedes: wr.supersedes,
    superseded_by: wr.supersededBy,
    artifacts: wr.outputArtifacts,
    scope: wr.scope,
    workspace: wr.workspace,
    heartbeat_at: wr.heartbeatAt,
    logtail: wr.logtail,
    run: wr.run ? { name: wr.run.name, number: formatRunNumber(wr.run), status: wr.run.status } : null,
    internal_collection: wr.internalCollection ?? null,
  };
}

function wholeSeconds(seconds: number | null): number | null {
  return seconds === null ? null : Math.round(seconds);
}
