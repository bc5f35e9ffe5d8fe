/** JSON shapes of the REST API (docs/api.md), as the client sees them. */
import type { RelationType } from '../../shared/domain/artifacts';

export interface WireFile {
  type: 'file';
  size: number;
  checksums: { sha256: string };
  content_type: string | null;
  complete: boolean;
  url: string;
}

/** What listings return for each artifact: everything but the files (that would cost a read per artifact). */
export interface WireArtifactSummary {
  id: number;
  url: string;
  scope: string;
  workspace: string;
  category: string;
  data: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  created_by: string;
  expire_at: string | null;
  immutable: boolean;
  complete: boolean;
  download_tar_gz_url: string;
}

export interface WireArtifact extends WireArtifactSummary {
  files_to_upload: string[];
  files: Record<string, WireFile>;
}

export interface WireFileDeclaration {
  type: 'file';
  size: number;
  checksums: { sha256: string };
  content_type?: string;
}

export interface CreateArtifactRequest {
  category: string;
  workspace?: string;
  files: Record<string, WireFileDeclaration>;
  data?: Record<string, unknown>;
  expiration_delay?: number | string;
  immutable?: boolean;
  /** With a worker token: the running work request this artifact is an output of. */
  work_request?: number;
}

export interface ArtifactPage {
  results: WireArtifactSummary[];
  next: string | null;
  cursor: string | null;
}

export interface MultipartPartPlan {
  part_number: number;
  size: number;
  url: string;
  uploaded: boolean;
  etag: string | null;
}

export type UploadPlan =
  | { complete: true }
  | { complete: false; verifying: true; method?: undefined }
  | { complete: false; method: 'single'; url: string; headers: Record<string, string> }
  | { complete: false; method: 'multipart'; upload_id: string; part_size: number; parts: MultipartPartPlan[] };

export type MultipartUploadPlan = Extract<UploadPlan, { method: 'multipart' }>;

export interface CompletedPart {
  part_number: number;
  etag: string;
}


export interface WireRelation {
  id: number;
  artifact: number;
  target: number;
  type: RelationType;
}

export interface WhoAmI {
  user: string | null;
  auth: boolean;
  worker_token: boolean;
  is_admin: boolean;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  validation_errors?: Record<string, string[] | string>;
}

// ---- Work requests and workers (docs/api.md "Work requests", "Workers") ----

export type WireWorkRequestStatus = 'blocked' | 'pending' | 'running' | 'completed' | 'aborted';
export type WireWorkRequestResult = '' | 'success' | 'failure' | 'error' | 'skipped';
export type WireFinalResult = Exclude<WireWorkRequestResult, ''>;

export interface WireWorkRequest {
  id: number;
  url: string;
  task_name: string;
  task_type: string;
  task_data: Record<string, unknown>;
  dynamic_task_data: Record<string, unknown> | null;
  status: WireWorkRequestStatus;
  result: WireWorkRequestResult;
  /** The worker's integer id (Debusine's models); `worker_name` names it. */
  worker: number | null;
  worker_name: string | null;
  created_at: string;
  created_by: string;
  aborted_by: string | null;
  started_at: string | null;
  completed_at: string | null;
  duration: number | null;
  priority_base: number;
  priority_adjustment: number;
  effective_priority: number;
  parent: number | null;
  dependencies: number[];
  workflow_data: Record<string, unknown>;
  event_reactions: Record<string, unknown>;
  output_data: Record<string, unknown> | null;
  retry_count: number;
  supersedes: number | null;
  superseded_by: number | null;
  artifacts: number[];
  scope: string;
  workspace: string;
  heartbeat_at: string | null;
  logtail: string[];
}

export interface WorkRequestPage {
  results: WireWorkRequest[];
  next: string | null;
  cursor: string | null;
}

export interface CreateWorkRequestRequest {
  task_name: string;
  task_data?: Record<string, unknown>;
  event_reactions?: Record<string, unknown>;
  workspace?: string;
}

export interface UnblockRequest {
  action?: 'accept' | 'reject';
  notes?: string;
}

export interface WireOutputError {
  code: string;
  message: string;
}

/** What a worker reports in `PUT work-request/<id>/completed/`. */
export interface WorkRequestCompletion {
  result: WireFinalResult;
  output_data?: {
    runtime_statistics?: Record<string, unknown>;
    errors?: WireOutputError[];
    [key: string]: unknown;
  };
}

export interface RegisterWorkerRequest {
  token: string;
  fqdn: string;
  worker_type?: 'external' | 'celery' | 'signing';
  concurrency?: number;
}

export interface RegisteredWorker {
  name: string;
  enabled: boolean;
}

/** `GET worker/queue/`: where the worker long-polls for its messages. */
export interface WireQueueAccess {
  queue_url: string;
  region: string;
  endpoint?: string | null;
  credentials?: { access_key_id: string; secret_access_key: string; session_token?: string | null; expiration?: string | null } | null;
}

export interface WireWorker {
  name: string;
  worker_type: string;
  enabled: boolean;
  connected: boolean;
  connected_at: string | null;
  last_seen_at: string | null;
  concurrency: number;
  assigned: number;
  metadata: Record<string, unknown>;
  current_work: number[];
}
