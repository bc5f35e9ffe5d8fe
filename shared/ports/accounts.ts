/**
 * Ports of accounts (REANA's model): user status, the token lifecycle's one-per-purpose claim,
 * quotas, and the accounting state that keeps usage exact under redelivery.
 */
import type { Account, Quota, Resource } from '../domain/quotas';
import type { Token, User } from '../domain/tenancy';

/** What an accounting event is about; the consumer re-reads the source, so events carry ids only. */
export type UsageSource = { kind: 'artifact'; id: number } | { kind: 'work-request'; id: number };

/**
 * "Look at this source again": sent after an artifact's files change or a work request finishes.
 * `scope`, `workspace` and `createdBy` never change for a source; they let the consumer find the
 * accounts of a source that no longer exists (a deleted artifact).
 */
export interface AccountingEvent {
  source: UsageSource;
  scope: string;
  workspace: string;
  /** `user:<name>` or `work-request:<id>` (the owner is then that request's creator). */
  createdBy: string;
}

export interface AccountingQueue {
  enqueue(events: AccountingEvent[]): Promise<void>;
}

/** What one source currently counts for one account. */
export interface Contribution {
  /** Milliseconds of run time (work requests). */
  cpu: number;
  /** Distinct files (`<sha256>-<size>`) the source references (artifacts). */
  files: string[];
  version: number;
}

/** Which of an account's sources reference one distinct file: it counts once while any does. */
export interface FileReference {
  fileKey: string;
  size: number;
  artifacts: number[];
  version: number;
}

/**
 * One atomic accounting step for one account and one source: every item is written conditionally
 * on the version read (absent = must not exist), or nothing is (ConflictError).
 */
export interface AccountingChange {
  account: Account;
  source: UsageSource;
  contribution: { expectedVersion: number | undefined; next: Omit<Contribution, 'version'> | null };
  fileRefs: { fileKey: string; expectedVersion: number | undefined; next: Omit<FileReference, 'version' | 'fileKey'> | null }[];
  usageDelta: Partial<Record<Resource, number>>;
}

/**
 * The bulk recompute's step for one account: several contributions and file references, each
 * conditional on the version listed, and the usage change they imply, all or nothing (at most
 * 99 items besides the usage counter: DynamoDB transactions hold 100).
 */
export interface AccountingRewrite {
  account: Account;
  contributions: { source: UsageSource; expectedVersion: number | undefined; next: Omit<Contribution, 'version'> | null }[];
  fileRefs: AccountingChange['fileRefs'];
  usageDelta: Partial<Record<Resource, number>>;
}

export interface AccountsRepository {
  /** Conditional on the user existing; returns the updated user. */
  setUserDisabled(username: string, disabled: boolean): Promise<User>;

  /** Stores a `requested` token and claims the (user, purpose) slot; ConflictError when it is held. */
  requestToken(token: Token): Promise<void>;
  /**
   * The requested token becomes active with its key's hash (the same token id: its item moves to
   * the new hash), conditional on it still being requested at `requested.version`.
   */
  grantRequestedToken(requested: Token, granted: Token): Promise<void>;
  /** Stores an active token for a (user, purpose) slot that nobody holds; ConflictError otherwise. */
  createClaimedToken(token: Token): Promise<void>;
  /** Revokes the token and frees its (user, purpose) slot, conditional on `expectedVersion`. */
  revokeClaimedToken(token: Token, expectedVersion: number): Promise<void>;
  /** The token holding a user's slot for a purpose, if any. */
  claimedToken(username: string, purpose: string): Promise<string | undefined>;
  /** Migrations: claims a free slot for an existing token (false when it is held). */
  putClaim(username: string, purpose: string, tokenId: string): Promise<boolean>;
  /** Migrations: frees a slot (false when nobody held it). */
  deleteClaim(username: string, purpose: string): Promise<boolean>;
  /** Migrations: gives a user without quota attributes its limits and zero usage. */
  initialiseUserQuota(username: string, limits: Record<Resource, number>): Promise<void>;
  /** Migrations: removes a user's quota attributes. */
  removeUserQuota(username: string): Promise<void>;

  /** A user's quota (also on the user item, read by authentication) or a workspace's. */
  getQuota(account: Account): Promise<Quota>;
  setLimit(account: Account, resource: Resource, limit: number): Promise<Quota>;
  /** Sets `used` if it still equals `expected` (the recompute's correction); false when it moved. */
  correctUsed(account: Account, resource: Resource, expected: number, used: number): Promise<boolean>;

  getContribution(account: Account, source: UsageSource): Promise<Contribution | undefined>;
  getFileRefs(account: Account, fileKeys: string[]): Promise<Map<string, FileReference>>;
  applyAccounting(change: AccountingChange): Promise<void>;
  /** The bulk recompute's conditional step (ConflictError when any item moved). */
  rewriteAccounting(rewrite: AccountingRewrite): Promise<void>;
  /** Every account holding accounting state or a limit (small: users and workspaces). */
  listAccounts(): Promise<Account[]>;
  /** An account's contributions (for the recompute). */
  listContributions(account: Account): Promise<{ source: UsageSource; contribution: Contribution }[]>;
  /** An account's file references (for the recompute). */
  listFileRefs(account: Account): Promise<FileReference[]>;
}

/** One change of the schema revision, as recorded in the table. */
export interface SchemaChange {
  at: string;
  actor: string;
  action: 'upgrade' | 'downgrade' | 'stamp';
  from: string;
  to: string;
}

/** The stored schema revision and its history. */
export interface SchemaStore {
  /** Undefined for a table never stamped (the version before migrations existed). */
  current(): Promise<string | undefined>;
  /** Moves the revision from `expected` (undefined: none stored) to `to` and records the change; ConflictError when it moved. */
  move(expected: string | undefined, to: string, change: SchemaChange): Promise<void>;
  /** Oldest first. */
  history(): Promise<SchemaChange[]>;
  /**
   * Schema revision 0004: work requests' listing entries written before it (on the index the listing
   * shared with other lookups) move to the listing's own index (`upgrade`), or back (`downgrade`).
   * Returns how many requests moved; running it again moves nothing more. Here, not on the
   * work-request repository: only migrations need it, and the request path's bundles stay smaller.
   */
  moveWorkRequestListing(direction: 'upgrade' | 'downgrade'): Promise<number>;
}

/**
 * The one quota read on the request path (enforceQuotas, before new work is accepted): a port of its
 * own so that the functions that only enforce quotas do not bundle the whole accounts repository.
 */
export interface QuotaReader {
  getQuota(account: Account): Promise<Quota>;
}
