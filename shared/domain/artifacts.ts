import { ValidationError } from './errors';
import { expireAfter } from './expiry';

export interface ArtifactFile {
  path: string;
  sha256: string;
  size: number;
  contentType?: string;
  complete: boolean;
}

export interface Artifact {
  id: number;
  scope: string;
  workspace: string;
  category: string;
  data: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /** `user:<name>` or `work-request:<id>`. */
  createdBy: string;
  expireAt: string | null;
  immutable: boolean;
  /** Files not yet verified; the artifact is complete when this is 0. */
  incompleteFiles: number;
  version: number;
}

export const RELATION_TYPES = ['built-using', 'extends', 'relates-to'] as const;
export type RelationType = (typeof RELATION_TYPES)[number];

export interface ArtifactRelation {
  id: number;
  artifact: number;
  target: number;
  type: RelationType;
  createdAt: string;
}

export function isArtifactComplete(a: Pick<Artifact, 'incompleteFiles'>): boolean {
  return a.incompleteFiles === 0;
}

/** Content address of stored bytes: the same bytes are stored once, whoever uploads them. */
export function blobKey(sha256: string, size: number): string {
  return `${sha256}-${size}`;
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

const CATEGORY = /^[a-z0-9][a-z0-9-]*:[a-z0-9][a-z0-9:._-]*$|^testing$/;
export function categoryProblem(category: string): string | undefined {
  if (category.length > 255) return 'must be at most 255 characters';
  return CATEGORY.test(category) ? undefined : 'must look like "namespace:name" (e.g. "debian:source-package")';
}

/**
 * Expiry date of an artifact: the explicit delay if given, else the workspace's
 * default; a delay of 0 or null means "keep forever".
 */
export function computeExpireAt(createdAt: Date, delaySeconds: number | null | undefined): string | null {
  return expireAfter(createdAt, delaySeconds);
}

/**
 * Debusine sends expiration delays as Django durations ("D HH:MM:SS" or "HH:MM:SS");
 * Conveyor also accepts a number of seconds.
 */
export function parseExpirationDelay(value: unknown, field = 'expiration_delay'): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw ValidationError.field(field, 'must be a non-negative whole number of seconds');
    return value;
  }
  if (typeof value === 'string') {
    const m = /^(?:(\d+) )?(\d{1,2}):(\d{2}):(\d{2})$/.exec(value.trim());
    if (m) {
      const [, d, h, min, s] = m;
      const minutes = Number(min);
      const seconds = Number(s);
      if (minutes < 60 && seconds < 60) return Number(d ?? 0) * 86400 + Number(h) * 3600 + minutes * 60 + seconds;
    }
  }
  throw ValidationError.field(field, 'must be seconds or a duration "D HH:MM:SS"');
}
