/**
 * What the workspace step of the expiry pass (shared/app/workspace-expiry.ts) needs from storage: a
 * due index of workspaces that have an `expiration_delay` (written with the workspace row), the
 * deletes of the contents that no other port deletes whole, and the final delete. Adapters: dynamodb/workspace-expiry-store.ts, memory/workspace-expiry-store.ts.
 */
import type { RecurringJob } from '../domain/recurring-jobs';
import type { Workspace } from '../domain/tenancy';

export interface WorkspaceExpiryEntry {
  scope: string;
  workspace: string;
  /** When the pass looks at it next. */
  checkAt: string;
  /** How far the pass has read the workspace's work requests (absent: not started). */
  scan?: WorkspaceScan;
}

/**
 * The progress of reading a due workspace's work requests, kept on its entry between passes so a
 * workspace with more requests than one pass reads is judged in slices (shared/app/workspace-expiry.ts).
 */
export interface WorkspaceScan {
  /** When the scan began (the pass's clock). */
  startedAt: string;
  /** The first request listed (the newest) when the scan began; null: there was none. */
  newest: { id: number; createdAt: string } | null;
  /** The listing's cursor where the next slice starts; null: from the start. */
  cursor: string | null;
  /** True once every request was read, none unfinished. */
  complete: boolean;
  /** Requests read so far. */
  read: number;
  /** The latest finish among them (null: none read). */
  lastFinishedAt: string | null;
}

export interface WorkspaceExpiryStore {
  /** Entries whose check time is at or before `upTo`, oldest first, at most `limit`. */
  dueWorkspaces(upTo: string, limit: number): Promise<WorkspaceExpiryEntry[]>;
  /** Moves an entry's next check to `at` (null: it leaves the index), dropping its scan. */
  recheckWorkspace(scope: string, workspace: string, at: string | null): Promise<void>;
  /** Stores the scan on the entry, its check time unchanged (only while the entry exists). */
  saveScan(scope: string, workspace: string, scan: WorkspaceScan): Promise<void>;
  /**
   * Deletes the workspace row conditional on its version, then its index entry. False when the
   * condition failed (it changed since it was read): nothing is deleted then.
   */
  deleteWorkspace(ws: Workspace): Promise<boolean>;
  /** Deletes the run records (`findRun`'s index) of a workflow template name in the workspace. */
  deleteTemplateRuns(scope: string, workspace: string, name: string): Promise<void>;
  /**
   * Deletes a recurring job conditional on its version, then its results and events (its run
   * history; its due and runs-out index entries are on the job row). False when the condition failed.
   */
  deleteRecurringJob(job: RecurringJob): Promise<boolean>;
  /** Deletes the workspace's quota and usage records (its accounting partition). */
  deleteUsageRecords(scope: string, workspace: string): Promise<void>;
}
