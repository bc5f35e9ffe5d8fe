/**
 * What the expiry pass (shared/app/expiry.ts) needs from storage. Every read is bounded by what
 * expires: candidates come from an expiry index keyed by hour bucket, never from a table scan.
 * Adapters: shared/adapters/memory/expiry-store.ts (fake), shared/adapters/dynamodb/expiry-store.ts.
 */
import type { Artifact } from '../domain/artifacts';
import type { BlobRow } from '../domain/blob-gc';
import type { RetainingLink, WorkRequestInputs } from '../domain/expiry';
import type { Page, StoredFile } from './index';
import type { ItemRetentionStore } from './item-retention';
import type { TokenExpiryStore } from './token-expiry';
import type { WorkRequestExpiryStore } from './work-request-expiry';
import type { WorkspaceExpiryStore } from './workspace-expiry';

export interface ExpiringArtifact {
  id: number;
  expireAt: string;
}

export interface ArtifactExpiryState {
  artifact: Artifact;
  files: StoredFile[];
  /** Set by a pass that found it expired and unreachable; a later pass deletes it if still so. */
  condemnedAt: string | null;
}

export interface BlobRef {
  sha256: string;
  size: number;
}

/** What deciding one artifact's retention reads (the single-artifact view needs no more of the store). */
export type RetentionGraphReader = Pick<ExpiryStore, 'artifactState' | 'retainingLinks' | 'workRequestInputs'>;

export interface ExpiryStore {
  /** Removed collection items and their retention index (the pass's collection-item step). */
  readonly items: ItemRetentionStore;
  /** Tokens past their expiry date (the pass's token step). */
  readonly tokens: TokenExpiryStore;
  /** Finished work-request trees and their expiry index (the pass's work-request step). */
  readonly workRequests: WorkRequestExpiryStore;
  /** Workspaces with an `expiration_delay` and their expiry index (the pass's workspace step). */
  readonly workspaces: WorkspaceExpiryStore;
  /**
   * Whether every stored item carries the expiry indexes: false on an installation older than
   * expiry until its one-off backfill (`conveyor admin expire --backfill`) ran. A pass does nothing then.
   */
  indexReady(): Promise<boolean>;
  /**
   * Buckets of the expiry index that hold entries, oldest first, up to `upToBucket` included. A
   * bucket is listed from the first entry written into it until a pass drops it once drained.
   */
  expiryBuckets(upToBucket: string, limit: number): Promise<string[]>;
  /** Drops a bucket from the list: only once it is in the past and holds no entries. */
  dropExpiryBucket(bucket: string): Promise<void>;
  /** Index entries of one bucket whose check time is at or before `upTo`, oldest first. */
  expiringArtifacts(bucket: string, upTo: string, limit: number, cursor?: string): Promise<Page<ExpiringArtifact>>;
  /**
   * Moves an expired artifact that something keeps to a later bucket of the index (its `expireAt`
   * is unchanged), so passes do not re-read everything retained every time.
   */
  postponeCheck(id: number, until: string): Promise<void>;
  /** Consistent read of an artifact, its files and its condemnation. */
  artifactState(id: number): Promise<ArtifactExpiryState | undefined>;
  /** Collection items (active or removed) that still link the artifact, with their collection's retention. */
  retainingLinks(artifactId: number): Promise<RetainingLink[]>;
  /** Unfinished or finished work requests that use the artifact as an input (the rule keeps only active ones). */
  workRequestInputs(artifactId: number): Promise<WorkRequestInputs[]>;

  /**
   * Marks the artifact condemned, conditional on its version and on it not being condemned.
   * While condemned, nothing may relate to it or add it to a collection (those writes check).
   */
  condemnArtifact(id: number, version: number, at: string): Promise<boolean>;
  /**
   * Clears a condemnation, conditional on `condemnedAt` unchanged. A condemned artifact is frozen:
   * no change of its own (PATCH), no relation to it, no collection item for it.
   */
  reprieveArtifact(id: number, condemnedAt: string): Promise<boolean>;
  /**
   * Conditional on `condemnedAt` unchanged: deletes the artifact (immutable ones too: expiry is the
   * one operation allowed to), its file rows, relations from and to it, and clears collection-item
   * links to it. Returns the bytes its files referenced, or undefined when the condition failed.
   */
  deleteCondemnedArtifact(id: number, condemnedAt: string): Promise<{ blobs: BlobRef[] } | undefined>;

  /** Bytes that may have lost their last reference: the blob sweep looks at them. */
  addBlobCandidates(blobs: BlobRef[], at: string): Promise<void>;
  /** Candidates with when they became one, oldest first. */
  blobCandidates(limit: number): Promise<{ blob: BlobRef; since: string }[]>;
  dropBlobCandidate(blob: BlobRef): Promise<void>;
  blobRow(blob: BlobRef): Promise<BlobRow | undefined>;
  /** Whether any file row of any artifact, complete or not, in any workspace holds these bytes. */
  blobReferenced(blob: BlobRef): Promise<boolean>;
  /** Conditional on the row being exactly `from` (state and condemnedAt); `to` undefined deletes the row. */
  setBlobRow(blob: BlobRef, from: BlobRow, to: BlobRow | undefined): Promise<boolean>;
}
