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
