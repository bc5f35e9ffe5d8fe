/**
 * Ports: what the use cases need from the outside world. Adapters implement them
 * (DynamoDB, S3, SQS in shared/adapters/, in-memory fakes in shared/adapters/memory/).
 */
import type { Artifact, ArtifactFile, ArtifactRelation, RelationType } from '../domain/artifacts';
import type { Role } from '../domain/roles';
import type { AuditEntry, RoleGrant, Scope, Token, User, Workspace } from '../domain/tenancy';
import type { Readable } from 'node:stream';
import type { WorkRequest, WorkRequestStatus, TaskType } from '../domain/work-requests';
import type { Worker } from '../domain/workers';
import type { FreeSlotVerdict } from '../domain/free-slots';
import type { Collection, CollectionItem } from '../domain/collections';
import type { RunNumber, WorkflowTemplate } from '../domain/workflows';
import type { QuotaSettings } from '../domain/quotas';
import type { AccountingQueue, AccountsRepository, QuotaReader, SchemaStore } from './accounts';
export type * from './accounts';
import type { MachineEventLog, RecurringJobRepository } from './recurring-jobs';

export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  /** A random, URL-safe, unguessable identifier. */
  random(): string;
}

/** Monotonic integer ids, for Debusine-compatible artifact and relation ids. */
export interface Sequences {
  /** Fixed names, plus `run:<scope>#<workspace>#<name>` and `run:<...>#<major>` counters for workflow run numbers. */
  next(name: 'artifact' | 'artifact-relation' | 'work-request' | 'workflow-template' | 'collection' | 'collection-item' | 'recurring-job' | 'worker' | `run:${string}` | `rate:${string}`): Promise<number>;
}

/** Which end of a relation a listing is anchored at: relations from `artifact`, or to `target`. */
export type RelationEnd = { artifact: number } | { target: number };

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, absent on the last page. */
  next?: string;
}

export interface IdentityRepository {
  getScope(name: string): Promise<Scope | undefined>;
  /** Creates the scope unless it exists; returns whether it was created. */
  createScopeIfAbsent(scope: Scope): Promise<boolean>;

  getWorkspace(scope: string, name: string): Promise<Workspace | undefined>;
  /** Fails with ConflictError when the name is taken. */
  createWorkspace(ws: Workspace): Promise<void>;
  /** Conditional on `expectedVersion`; fails with ConflictError when it moved. */
  updateWorkspace(ws: Workspace, expectedVersion: number): Promise<void>;
  listWorkspaces(scope: string): Promise<Workspace[]>;

  getUser(username: string): Promise<User | undefined>;
  createUser(user: User): Promise<void>;
  listUsers(): Promise<User[]>;

  getTokenByHash(hash: string): Promise<Token | undefined>;
  getTokenById(id: string): Promise<Token | undefined>;
  createToken(token: Token): Promise<void>;
  /** Conditional on `expectedVersion`. */
  updateToken(token: Token, expectedVersion: number): Promise<void>;
  /** Records use, at most once per `minIntervalMs` (saves a write per request). */
  touchToken(hash: string, at: Date, minIntervalMs: number): Promise<void>;
  listTokens(username?: string): Promise<Token[]>;

  getRole(scope: string, workspace: string, username: string): Promise<Role | undefined>;
  putRole(grant: RoleGrant): Promise<void>;
  /** Returns whether a grant existed. */
  deleteRole(scope: string, workspace: string, username: string): Promise<boolean>;
  listRoles(scope: string, workspace: string): Promise<RoleGrant[]>;
  /** Workspaces (scope/name) where the user holds a role. */
  listRolesOfUser(username: string): Promise<RoleGrant[]>;
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  list(opts: { limit: number; cursor?: string }): Promise<Page<AuditEntry>>;
}

/** Where an in-progress upload of one file stands. */
export interface FileUploadState {
  /** Staging object key the client uploads to (absent after a failed attempt was discarded). */
  key?: string;
  /** S3 multipart upload id, for multipart presigned uploads. */
  multipartUploadId?: string;
  /** Bytes received so far through the ranged (Content-Range) protocol. */
  rangedReceived?: number;
  /** Keys of the chunk objects received through the ranged protocol, in order. */
  rangedChunks?: string[];
  /** Set while a queued read-back verification is outstanding. */
  verifying?: boolean;
  /** When the verification was queued: a check lost on the way is queued again after a while. */
  verifyingSince?: string;
  /** Why the last verification failed, shown to the client. */
  lastError?: string;
}

export interface StoredFile extends ArtifactFile {
  upload?: FileUploadState;
}

/** What a verification checked: the file row must still declare these to be completed. */
export interface VerifiedUpload {
  sha256: string;
  size: number;
  /** The staging object key recorded in the row's upload state whose bytes were verified. */
  uploadKey: string;
}

export interface ArtifactWithFiles {
  artifact: Artifact;
  files: StoredFile[];
}

export interface ArtifactListFilter {
  scope: string;
  workspace: string;
  category?: string;
  createdBy?: string;
  limit: number;
  cursor?: string;
}

export interface ArtifactRepository {
  /**
   * Fails with ConflictError if the id exists, and with BlobNotClaimableError when a complete file's
   * blob is not `stored` (an expiry pass condemned it meanwhile). Writes the expiry-index entry.
   */
  create(artifact: Artifact, files: StoredFile[]): Promise<void>;
  get(id: number): Promise<ArtifactWithFiles | undefined>;
  list(filter: ArtifactListFilter): Promise<Page<Artifact>>;
  /**
   * Replaces mutable fields of the artifact item (data, immutable, expireAt, updatedAt),
   * conditional on `expectedVersion` and on the artifact not being immutable.
   */
  update(artifact: Artifact, expectedVersion: number): Promise<void>;
  /** Adds a file row and bumps the artifact's version (and incomplete count). */
  attachFile(artifact: Artifact, expectedVersion: number, file: StoredFile): Promise<void>;
  removeFile(artifact: Artifact, expectedVersion: number, file: StoredFile): Promise<void>;
  /**
   * Marks the file complete, conditional on it being incomplete AND still being the row whose
   * bytes were verified (same SHA-256, size and upload key: a row deleted and attached again
   * meanwhile is a different row), and decrements the artifact's incomplete count in the same
   * transaction. Returns false if it was already complete or is no longer the verified upload.
   * Fails with BlobNotClaimableError when the blob row is not `stored` at that instant (an expiry
   * sweep condemned the bytes since they were found stored): the caller copies them in again.
   */
  completeFile(artifactId: number, path: string, at: string, verified: VerifiedUpload): Promise<boolean>;
  /** Conditional on the file being incomplete. */
  setUploadState(artifactId: number, path: string, upload: FileUploadState | undefined): Promise<void>;
  /** Deletes the artifact, its files and every relation from or to it. */
  delete(artifact: Artifact): Promise<void>;
  /** Whether a complete file with these bytes exists in the workspace. */
  blobVisibleInWorkspace(scope: string, workspace: string, sha256: string, size: number): Promise<boolean>;

  /** Whether verified bytes for this content are in the file store and may be claimed without an upload. */
  isBlobStored(sha256: string, size: number): Promise<boolean>;
  /**
   * Before verified bytes are copied to their content address: `already-stored` (no copy needed),
   * or `claim` (the row is now `uploading`: copy, then markBlobStored). ConflictError while an
   * expiry pass is deleting the stored copy (try again later). See shared/domain/blob-gc.ts.
   */
  claimBlobForUpload(sha256: string, size: number, at: string): Promise<'already-stored' | 'claim'>;
  /** After the copy: `uploading` → `stored` (nothing otherwise). */
  markBlobStored(sha256: string, size: number, at: string): Promise<void>;

  /** Creates the relation unless the (artifact, target, type) triple exists; returns the stored one. */
  createRelation(relation: ArtifactRelation): Promise<{ relation: ArtifactRelation; created: boolean }>;
  getRelation(id: number): Promise<ArtifactRelation | undefined>;
  listRelations(by: { artifact: number } | { target: number }): Promise<ArtifactRelation[]>;
  /**
   * Up to `limit` relations in key order (of the other end's id), after `cursor`; `next` when more
   * follow. Reads at most limit + 1 items.
   */
  relationsPage(by: RelationEnd, opts: { limit: number; cursor?: string }): Promise<Page<ArtifactRelation>>;
  /** The cursor of `relationsPage(by)` that continues right after `relation`. */
  relationCursorAfter(relation: ArtifactRelation, by: RelationEnd): string;
  deleteRelation(relation: ArtifactRelation): Promise<boolean>;
}

export interface PresignedPart {
  partNumber: number;
  url: string;
  size: number;
}

export interface ObjectInfo {
  size: number;
  /** The object's user metadata (`x-amz-meta-*`, names without the prefix, lower case). */
  metadata?: Record<string, string>;
}

export interface FileStore {
  /** A URL for one PUT of exactly `size` bytes whose SHA-256 is `sha256Hex`; returns headers the client must send. */
  presignPut(key: string, size: number, sha256Hex: string, expiresInSeconds: number): Promise<{ url: string; headers: Record<string, string> }>;
  createMultipartUpload(key: string): Promise<string>;
  presignUploadPart(key: string, uploadId: string, partNumber: number, size: number, expiresInSeconds: number): Promise<string>;
  listUploadedParts(key: string, uploadId: string): Promise<{ partNumber: number; etag: string; size: number }[]>;
  completeMultipartUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /**
   * Checks that the object holds exactly these bytes: `ok`, `mismatch`, or `missing`.
   * `cheapOnly` asks for a check that does not read the bytes; `unknown` means that needs a read-back.
   */
  verify(key: string, size: number, sha256Hex: string, opts?: { cheapOnly?: boolean }): Promise<'ok' | 'mismatch' | 'missing' | 'unknown'>;
  head(key: string): Promise<ObjectInfo | undefined>;
  presignGet(key: string, opts: { filename?: string; contentType?: string; expiresInSeconds: number }): Promise<string>;
  put(key: string, body: Buffer, contentType?: string, metadata?: Record<string, string>): Promise<void>;
  /** The objects whose key starts with `prefix` (at most 1000: callers keep prefixes small). */
  list(prefix: string): Promise<{ key: string; size: number }[]>;
  /** Streams `body` to the key (length unknown in advance). */
  putStream(key: string, body: Readable, contentType?: string): Promise<void>;
  getStream(key: string): Promise<Readable>;
  copy(fromKey: string, toKey: string): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface FileVerificationJob {
  artifactId: number;
  path: string;
}

/** Why the scheduler should look again; every event triggers a full (bounded) scheduling pass. */
export type SchedulerEvent =
  | { type: 'work-request-pending'; workRequestId: number }
  | { type: 'work-request-finished'; workRequestId: number }
  | { type: 'worker-available'; worker: string }
  | { type: 'periodic' };

/** A heartbeat accepted by the API, applied later in batches. */
export interface HeartbeatMessage {
  workRequestId: number;
  worker: string;
  /** Server receive time (ISO): an older heartbeat never overwrites a newer one. */
  at: string;
  logtail: string[];
}

/**
 * One orchestration step of a workflow. The orchestrator queue is FIFO with the root workflow as
 * message group, so one root is orchestrated at a time.
 */
export interface OrchestrationMessage {
  rootId: number;
  /**
   * `reconcile`: the watchdog's check that a quiet running workflow is not stuck;
   * `retry-delayed`: a failed child's retry-with-delays reaction (adds the wait and the successor);
   * `settle-dependents`: the dependents of a finished request, when settling them right after the
   * finish failed.
   */
  kind: 'populate' | 'callback' | 'child-finished' | 'reconcile' | 'retry-delayed' | 'settle-dependents';
  /** The workflow to populate, the callback request to run, or the finished child. */
  workRequestId: number;
}

export interface JobQueues {
  enqueueFileVerification(job: FileVerificationJob): Promise<void>;
  enqueueOrchestration(message: OrchestrationMessage): Promise<void>;
  enqueueSchedulerEvent(event: SchedulerEvent): Promise<void>;
  enqueueHeartbeat(heartbeat: HeartbeatMessage): Promise<void>;
  /** A Server task to run in the server-task Lambda. */
  enqueueServerTask(job: { workRequestId: number }): Promise<void>;
}

/** What the server tells a worker through the worker's own queue. */
export type WorkerMessage = { type: 'work_request_available'; workRequestId: number } | { type: 'abort'; workRequestId: number };

/** How a worker reaches its queue: URL, and on AWS temporary credentials limited to that queue. */
export interface QueueAccess {
  queueUrl: string;
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: string };
}

/** One SQS queue per worker: it long-polls it for assignments and abort orders. */
export interface WorkerChannels {
  /** Creates (idempotently) the queue of a worker; returns its URL. */
  createQueue(workerName: string): Promise<string>;
  send(queueUrl: string, message: WorkerMessage): Promise<void>;
  access(queueUrl: string): Promise<QueueAccess>;
}

export interface WorkRequestListFilter {
  scope: string;
  workspace?: string;
  status?: WorkRequestStatus;
  taskName?: string;
  limit: number;
  cursor?: string;
}

/** Taking (+1) or giving back (-1) one of a worker's concurrency slots, atomically with a request change. */
export interface ChildProgress {
  created: number;
  finished: number;
  unsuccessful: number;
}

export interface SlotChange {
  worker: string;
  delta: 1 | -1;
  /**
   * The worker's slots as the caller read them (slot +1 only). When this take fills the last slot
   * the worker leaves the free-slot index in the same write, conditional on the worker being at
   * least that full (a slot given back since makes the commit fail: re-read and retry).
   */
  seen?: { assigned: number; concurrency: number };
  /**
   * The request that takes or gives back the slot. With it, a commit of that one request and its
   * slot may be written as two plain conditional writes instead of one transaction (half the write
   * units): the slot is taken before the request is assigned and given back after it is released,
   * so a worker never runs more than its concurrency; a slot left taken by a write that died is
   * given back by the watchdog (`releaseOrphanedSlots`).
   */
  workRequestId?: number;
}

/**
 * A set of changes written in one transaction: all happen or none (on DynamoDB, one request and its
 * own slot are two ordered plain writes: see `SlotChange.workRequestId`). Every update is conditional
 * on the version it was read at; a slot +1 is conditional on the worker being enabled and under
 * its concurrency, a slot -1 on it holding a slot.
 */
export interface WorkRequestChanges {
  create?: WorkRequest[];
  /**
   * `finishes`: this update moves the request from pending, running or blocked to completed or
   * aborted (set by the finishing use cases): a workflow child's finish is counted in its
   * workflow's child progress in the same transaction.
   */
  update?: { workRequest: WorkRequest; expectedVersion: number; finishes?: boolean }[];
  slots?: SlotChange[];
  /** Reverse-dependency links (dependency → dependent) to add or remove. */
  addReverseDependencies?: { dependency: number; dependent: number }[];
  removeReverseDependencies?: { dependency: number; dependent: number }[];
  /**
   * The created children are NOT counted in their workflow's `created` here: the caller (a populate,
   * which creates many) raises the count once afterwards with `raiseChildrenCreated`. Until then the
   * count is low, which only makes the child-finished step read every child (never wrongly wait).
   */
  uncountedChildren?: boolean;
  /**
   * The step this commit belongs to lets many requests go at once (a populate): the scheduling
   * partitions' "may hold" markers are set at the first commit into each, and once more by the
   * batch's `close` for those entered again since (not after every commit). See `pendingBatch`.
   */
  pendingBatch?: PendingBatch;
}

/**
 * Commits of one step grouped for the candidate markers. After `close` resolves, every partition
 * a commit of the batch entered is marked "may hold" by a set later than that commit: the caller
 * sends one scheduler event after it, so a pass that skipped a partition meanwhile looks again.
 */
export interface PendingBatch {
  close(): Promise<void>;
}

/** A snapshot of which scheduling partitions may hold pending requests (see `candidatePartitions`). */
export interface CandidatePartitions {
  /** False when the partition is known to be empty: its reader may skip it. */
  mayHold(taskType: TaskType, architecture: string | null): boolean;
}

export interface WorkRequestRepository {
  get(id: number): Promise<WorkRequest | undefined>;
  getMany(ids: number[]): Promise<WorkRequest[]>;
  /** Newest first, with cursor pagination. */
  list(filter: WorkRequestListFilter): Promise<Page<WorkRequest>>;
  /** The cursor of `filter`'s listing that continues right after `wr` (so a page can end on a request the caller may see). */
  cursorAfter(wr: WorkRequest, filter: WorkRequestListFilter): string;
  /** Fails with ConflictError when a condition does not hold (nothing is written then). */
  commit(changes: WorkRequestChanges): Promise<void>;
  /**
   * The requests that depend on `id`. `consistent: false`: an eventually consistent read (half the
   * read units), for a guess that a consistent listing later confirms (a completion's read-ahead).
   */
  reverseDependencies(id: number, opts?: { consistent?: boolean }): Promise<number[]>;
  /**
   * Unassigned pending requests of one scheduling partition, highest effective priority first,
   * then oldest. `architecture` null means requests with no host architecture.
   */
  pendingCandidates(taskType: TaskType, architecture: string | null, limit: number, partitions?: CandidatePartitions): Promise<WorkRequest[]>;
  /**
   * Which scheduling partitions may hold pending requests, in one read: `pendingCandidates` given
   * it skips (reads nothing for) a partition known to be empty. `trusted: false` (the periodic
   * pass) reads every partition anyway and only repairs what the markers say.
   */
  candidatePartitions(opts?: { trusted?: boolean }): Promise<CandidatePartitions>;
  /** A new batch for commits that let many requests go in one step (`WorkRequestChanges.pendingBatch`). */
  pendingBatch(): PendingBatch;
  /**
   * Requests assigned to a worker and not finished (pending-assigned or running). `read`: the worker
   * as this caller just read it from the repository (the caller's authentication); an adapter that
   * keeps what it read with it (DynamoDB: the slot holders) may then spare a read of the worker.
   * `finished`: a request this caller has just finished itself (a completion pulling the next one):
   * never returned, so an adapter need not read it (it may still name a slot holder of `read`).
   */
  activeForWorker(worker: string, read?: Worker, finished?: number): Promise<WorkRequest[]>;
  /** Children of a workflow (every one, superseded included), by id. */
  children(parentId: number): Promise<WorkRequest[]>;
  /**
   * A workflow's child counts, kept by the children's own commits (a created child counts in
   * `created`, a finishing one in `finished`, and in `unsuccessful` unless it completed with success
   * or skipped): one read, whatever the number of children. Undefined before its first child.
   */
  childProgress(workflowId: number): Promise<ChildProgress | undefined>;
  /**
   * Raises the workflow's `created` count to `created` (its number of children, read after the
   * commits that created them with `uncountedChildren`); a count already as high (a create counted
   * meanwhile) is left alone, so the count never exceeds the children there are.
   */
  raiseChildrenCreated(workflowId: number, created: number): Promise<void>;
  /** Running Worker tasks whose last heartbeat is older than `before`. */
  staleRunning(before: string, limit: number): Promise<WorkRequest[]>;
  /** Running workflows started before `startedBefore`, oldest first (for the reconcile sweep). */
  runningWorkflows(startedBefore: string, limit: number): Promise<WorkRequest[]>;
  /** Running Wait tasks whose `delay_until` is at or before `now`. */
  dueWaits(now: string, limit: number): Promise<WorkRequest[]>;
  /**
   * Applies a heartbeat if the request is still running on that worker and the heartbeat is
   * newer than the stored one. Returns whether it was applied.
   */
  applyHeartbeat(heartbeat: HeartbeatMessage): Promise<boolean>;
  /**
   * Gives back the slots that a commit written in two steps left taken although their request does
   * not hold them (the function died between the two writes, or after a write whose outcome it
   * never learnt): taken before `takenBefore` and held by a request that is neither pending nor
   * running on that worker (a finished one: finished before `takenBefore`). Returns how many.
   * A store whose commits are one atomic write never leaves any (0).
   */
  releaseOrphanedSlots(takenBefore: string): Promise<number>;
}

export interface WorkflowTemplateRepository {
  /** Fails with ConflictError when the workspace already has a template of that name. */
  create(template: WorkflowTemplate): Promise<void>;
  get(id: number): Promise<WorkflowTemplate | undefined>;
  getByName(scope: string, workspace: string, name: string): Promise<WorkflowTemplate | undefined>;
  list(scope: string, workspace: string): Promise<WorkflowTemplate[]>;
  /** One page of the workspace's templates, by name (the API's list; `list` stays for internal callers). */
  listPage(scope: string, workspace: string, opts: { limit: number; cursor?: string }): Promise<Page<WorkflowTemplate>>;
  /** Conditional on version; a rename keeps names unique (ConflictError). */
  update(template: WorkflowTemplate, expectedVersion: number): Promise<void>;
  delete(template: WorkflowTemplate): Promise<void>;
  /** Records that run `run` of workflow `name` in the workspace is work request `workRequestId`. */
  recordRun(scope: string, workspace: string, name: string, run: RunNumber, workRequestId: number): Promise<void>;
  /** The work request of a run; without `run`, the latest (highest major, then minor). */
  findRun(scope: string, workspace: string, name: string, run?: RunNumber): Promise<{ run: RunNumber; workRequestId: number } | undefined>;
}

export interface CollectionRepository {
  /** Fails with ConflictError when (workspace, name, category) exists. */
  create(collection: Collection): Promise<void>;
  get(id: number): Promise<Collection | undefined>;
  getByName(scope: string, workspace: string, name: string, category: string): Promise<Collection | undefined>;
  list(scope: string, workspace: string): Promise<Collection[]>;
  /** One page of the workspace's collections, by category then name; `category` narrows it. */
  listPage(scope: string, workspace: string, opts: { limit: number; cursor?: string; category?: string }): Promise<Page<Collection>>;
  /**
   * Adds an item. One active item per name: with `replace` the active one (and, for an artifact,
   * Debusine's rule: also bare items of that name) is soft-removed in the same transaction;
   * without it an active item of that name is a ConflictError.
   */
  addItem(item: CollectionItem, opts: { replace: boolean }): Promise<void>;
  /** Soft removal; returns the removed item, or undefined when there was no active one. */
  removeItem(collectionId: number, name: string, at: string, by: string): Promise<CollectionItem | undefined>;
  activeItem(collectionId: number, name: string): Promise<CollectionItem | undefined>;
  /** Active items, ordered by id. */
  activeItems(collectionId: number): Promise<CollectionItem[]>;
  /** One page of the active items, by name (the API's list). */
  activeItemsPage(collectionId: number, opts: { limit: number; cursor?: string }): Promise<Page<CollectionItem>>;
}

export interface Email {
  from?: string;
  to: string[];
  cc?: string[];
  subject: string;
  body: string;
}

export interface NotificationChannel {
  name: string;
  method: 'email';
  data: { from?: string; to?: string[]; cc?: string[] };
}

/** Sends notifications: SES in the cloud, a mailbox file on the local stack. */
export interface Notifier {
  send(email: Email): Promise<void>;
}

export interface NotificationChannelRepository {
  get(name: string): Promise<NotificationChannel | undefined>;
  put(channel: NotificationChannel): Promise<void>;
  list(): Promise<NotificationChannel[]>;
}

export interface WorkerRepository {
  /** Fails with ConflictError when the name is taken. */
  create(worker: Worker): Promise<void>;
  get(name: string): Promise<Worker | undefined>;
  /**
   * Every ENABLED worker (a small set: the scheduler and the watchdog read it once per pass).
   * Disabled workers (among them unapproved registrations, which anyone may create) are kept
   * out of this index so that they cost a scheduling pass nothing.
   */
  list(): Promise<Worker[]>;
  /** The disabled workers, for administrators (never read by the scheduler or the watchdog). */
  listDisabled(): Promise<Worker[]>;
  /** Conditional on version; never changes `assigned` (slots change only through WorkRequestChanges). */
  update(worker: Worker, expectedVersion: number): Promise<void>;
  /** Records contact, at most once per `minIntervalMs`. */
  touch(name: string, at: Date, minIntervalMs: number): Promise<void>;
  /**
   * The free-slot index (shared/domain/free-slots.ts): every worker that may take work, and maybe
   * some that cannot (the caller checks each with `freeSlotVerdict`). Eventually consistent.
   */
  withFreeSlots(): Promise<Worker[]>;
  /**
   * Takes a worker out of the free-slot index, conditional on the state read still holding (a
   * changed worker stays and is judged again on the next pass). `stale` also marks it disconnected
   * (version + 1), so that its next request says hello and puts it back. False when it changed.
   */
  dropFromFreeSlots(worker: Worker, verdict: Exclude<FreeSlotVerdict, 'usable'>): Promise<boolean>;
}

/** Everything a use case may touch. */
export interface Deps {
  identity: IdentityRepository;
  artifacts: ArtifactRepository;
  audit: AuditLog;
  files: FileStore;
  queues: JobQueues;
  workRequests: WorkRequestRepository;
  workers: WorkerRepository;
  workerChannels: WorkerChannels;
  templates: WorkflowTemplateRepository;
  collections: CollectionRepository;
  channels: NotificationChannelRepository;
  notifier: Notifier;
  sequences: Sequences;
  clock: Clock;
  ids: IdGenerator;
  /** Users' status, the token claims, quotas and accounting (REANA's model). */
  accounts: AccountsRepository;
  accountingQueue: AccountingQueue;
  /** The stored items' schema revision (migrations). */
  schema: SchemaStore;
  /** Quota reads when new work is accepted (the accounts repository's getQuota, without the rest of it). */
  quotas: QuotaReader;
  /** Absent: DEFAULT_QUOTA_SETTINGS. */
  quotaSettings?: QuotaSettings;
  /** REANA's workflow scheduling policy; absent: fifo. */
  schedulingPolicy?: { policy: 'fifo' | 'balanced'; maxConcurrent: number };
  /** Recurring jobs (SPEC §5); optional so that deps built for other concerns need not carry it. */
  recurringJobs?: RecurringJobRepository;
  /** How a recurring run follows its work request (in process, or queued); wired wherever lifecycle is bundled. */
  recurringRunHooks?: RecurringRunHooks;
  /** Where machine-state changes append their events (the recurring-job repository, or its event log alone). */
  machineEventLog?: MachineEventLog;
  /** Debusine's WebSocket channel (workers and on-completed listeners); absent where not deployed. */
  sockets?: SocketChannels;
  /**
   * Creating a pending Worker request offers it at once to an idle worker (shared/app/create-offer.ts).
   * Set where `POST work-request/` is served (functions/work-requests-api.ts); absent: off, the scheduler
   * event alone (what the memory worlds of the scheduler tests expect: requests pending until a pass).
   */
  offerOnCreate?: boolean;
}

/** What happened to the work request that carries a recurring run (a worker started it, or it finished). */
export type RecurringRunMove = 'started' | 'finished';

/**
 * How a recurring run follows its work request. In process (recurring-runs.ts `recurringRunsInProcess`):
 * the job is written at once, by the caller. Queued (aws-recurring-runs.ts): a message to the
 * `recurring-runs` queue, which the recurring-release function applies within seconds; that keeps
 * the recurring-job code out of the work-requests API's bundle. Either way the move is idempotent
 * and order-free (a finish of a run never started starts it first; a late start is a no-op), and the
 * recurring tick's reconcile pass finishes a run whose move was lost.
 */
export interface RecurringRunHooks {
  moved(deps: Deps, wr: WorkRequest, move: RecurringRunMove): Promise<void>;
}

/**
 * An open WebSocket (Debusine's protocol): a Debusine worker waiting for `work_request_available`,
 * or a client waiting for `work_request_completed`. Stored while open (API Gateway keeps the socket).
 */
export interface SocketConnection {
  connectionId: string;
  kind: 'worker' | 'on-completed';
  scope: string;
  /** The worker (kind `worker`). */
  worker?: string;
  /** The workspaces whose completions the listener receives (kind `on-completed`). */
  workspaces?: string[];
  /** Why the connection is refused: sent once it is open, then it is closed (Debusine accepts, then rejects). */
  rejection?: { reason: string; reasonCode?: string };
  /** `completed_at_since` of a listener: completions since then are sent with the greeting. */
  replaySince?: string;
  connectedAt: string;
}

export interface SocketConnectionRepository {
  put(connection: SocketConnection): Promise<void>;
  get(connectionId: string): Promise<SocketConnection | undefined>;
  /** Deletes and returns the connection (undefined when it was not stored). */
  delete(connectionId: string): Promise<SocketConnection | undefined>;
  forWorker(worker: string): Promise<SocketConnection[]>;
  /** Every worker connection (the watchdog's liveness sweep). */
  workers(): Promise<SocketConnection[]>;
  /** Every on-completed listener. */
  listeners(): Promise<SocketConnection[]>;
}

/** Sends on open sockets: API Gateway's management API (PostToConnection) in the cloud and locally. */
export interface SocketPusher {
  /** False when the connection is gone. */
  send(connectionId: string, message: Record<string, unknown>): Promise<boolean>;
  close(connectionId: string): Promise<void>;
  isOpen(connectionId: string): Promise<boolean>;
}

export interface SocketChannels {
  connections: SocketConnectionRepository;
  pusher: SocketPusher;
}

/** Deps of the deployments with Debusine's WebSocket channel (absent: no sockets, SQS only). */
export type DepsWithSockets = Deps & { sockets: SocketChannels };
