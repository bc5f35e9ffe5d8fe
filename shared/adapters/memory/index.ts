/**
 * In-memory fakes of every port, for unit tests of use cases and HTTP routes. They keep
 * the same conditional semantics as the real adapters (version checks, immutability,
 * completeness), so a use case that forgets a condition fails here too.
 */
import { MemoryRecurringJobRepository } from './recurring-jobs';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { blobKey, type Artifact, type ArtifactRelation } from '../../domain/artifacts';
import { blobClaimable, uploadClaim, type BlobRow } from '../../domain/blob-gc';
import { expiryBucket } from '../../domain/expiry';
import { BlobNotClaimableError, ConflictError, NotFoundError, ValidationError, WORK_REQUEST_CHANGED } from '../../domain/errors';
import type { Role } from '../../domain/roles';
import type { AuditEntry, RoleGrant, Scope, Token, User, Workspace } from '../../domain/tenancy';
import type { TaskType, WorkRequest } from '../../domain/work-requests';
import type { Worker } from '../../domain/workers';
import { type FreeSlotVerdict, freeSlotOnUpdate, takeFillsLastSlot } from '../../domain/free-slots';
import type { RunNumber, WorkflowTemplate } from '../../domain/workflows';
import { MemoryCollectionRepository } from './collections';
import { clone, byCodeUnit, keyCursor, pageAfterKey } from './paging';
import { MemoryAccountingQueue, MemoryAccountsRepository, MemorySchemaStore } from './accounts';
import type {
  ArtifactListFilter,
  ArtifactRepository,
  ArtifactWithFiles,
  AuditLog,
  Clock,
  Deps,
  FileStore,
  FileUploadState,
  Email,
  FileVerificationJob,
  HeartbeatMessage,
  NotificationChannel,
  NotificationChannelRepository,
  Notifier,
  OrchestrationMessage,
  WorkflowTemplateRepository,
  IdentityRepository,
  QueueAccess,
  SchedulerEvent,
  WorkerChannels,
  WorkerMessage,
  WorkerRepository,
  WorkRequestChanges,
  SlotChange,
  WorkRequestListFilter,
  WorkRequestRepository,
  IdGenerator,
  JobQueues,
  Page,
  Sequences,
  StoredFile,
  VerifiedUpload,
  CandidatePartitions,
  PendingBatch,
  ChildProgress,
  RelationEnd,
} from '../../ports';
import { childProgressDeltas } from '../../domain/child-progress';
import { isFinished } from '../../domain/work-requests';

export class MemoryIdentityRepository implements IdentityRepository {
  scopes = new Map<string, Scope>();
  workspaces = new Map<string, Workspace>();
  users = new Map<string, User>();
  tokens = new Map<string, Token>();
  roles = new Map<string, RoleGrant>();
  /** Workspace expiry index: next checks moved by a pass (absent: creation + delay, as written with the row). */
  workspaceExpiryChecks = new Map<string, string | null>();

  async getScope(name: string) {
    return clone(this.scopes.get(name));
  }
  async createScopeIfAbsent(scope: Scope) {
    if (this.scopes.has(scope.name)) return false;
    this.scopes.set(scope.name, clone(scope));
    return true;
  }
  async getWorkspace(scope: string, name: string) {
    return clone(this.workspaces.get(`${scope}/${name}`));
  }
  async createWorkspace(ws: Workspace) {
    const key = `${ws.scope}/${ws.name}`;
    if (this.workspaces.has(key)) throw new ConflictError('Workspace exists', `workspace "${ws.name}" already exists`);
    this.workspaces.set(key, clone(ws));
  }
  async updateWorkspace(ws: Workspace, expectedVersion: number) {
    const key = `${ws.scope}/${ws.name}`;
    if (this.workspaces.get(key)?.version !== expectedVersion) throw new ConflictError('Conflict', 'workspace changed concurrently');
    this.workspaces.set(key, clone(ws));
    this.workspaceExpiryChecks.delete(key); // rewritten with the row, as in DynamoDB
  }
  async listWorkspaces(scope: string) {
    return [...this.workspaces.values()].filter((w) => w.scope === scope).map(clone).sort((a, b) => byCodeUnit(a.name, b.name));
  }
  async getUser(username: string) {
    return clone(this.users.get(username));
  }
  async createUser(user: User) {
    if (this.users.has(user.username)) throw new ConflictError('User exists', `user "${user.username}" already exists`);
    this.users.set(user.username, clone(user));
  }
  async listUsers() {
    return [...this.users.values()].map(clone).sort((a, b) => byCodeUnit(a.username, b.username));
  }
  async getTokenByHash(hash: string) {
    return clone(this.tokens.get(hash));
  }
  async getTokenById(id: string) {
    return clone([...this.tokens.values()].find((t) => t.id === id));
  }
  async createToken(token: Token) {
    if (this.tokens.has(token.hash)) throw new ConflictError('Token exists', 'token already exists');
    this.tokens.set(token.hash, clone(token));
  }
  async updateToken(token: Token, expectedVersion: number) {
    if (this.tokens.get(token.hash)?.version !== expectedVersion) throw new ConflictError('Conflict', 'token changed concurrently');
    this.tokens.set(token.hash, clone(token));
  }
  async touchToken(hash: string, at: Date, minIntervalMs: number) {
    const t = this.tokens.get(hash);
    if (!t) return;
    if (!t.lastSeenAt || Date.parse(t.lastSeenAt) < at.getTime() - minIntervalMs) t.lastSeenAt = at.toISOString();
  }
  async listTokens(username?: string) {
    return [...this.tokens.values()].filter((t) => !username || t.username === username).map(clone);
  }
  async getRole(scope: string, workspace: string, username: string): Promise<Role | undefined> {
    return this.roles.get(`${scope}/${workspace}/${username}`)?.role;
  }
  async putRole(grant: RoleGrant) {
    this.roles.set(`${grant.scope}/${grant.workspace}/${grant.username}`, clone(grant));
  }
  async deleteRole(scope: string, workspace: string, username: string) {
    return this.roles.delete(`${scope}/${workspace}/${username}`);
  }
  async listRoles(scope: string, workspace: string) {
    return [...this.roles.values()].filter((g) => g.scope === scope && g.workspace === workspace).map(clone);
  }
  async listRolesOfUser(username: string) {
    return [...this.roles.values()].filter((g) => g.username === username).map(clone);
  }
}

export class MemoryAuditLog implements AuditLog {
  entries: AuditEntry[] = [];
  async append(entry: AuditEntry) {
    this.entries.push(clone(entry));
  }
  async list(opts: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
    const newestFirst = [...this.entries].reverse();
    // Same contract as DynamoDB: a cursor that did not come from a previous page is refused.
    if (opts.cursor !== undefined && !/^\d+$/.test(opts.cursor)) throw ValidationError.field('cursor', 'is not a valid cursor (pass the cursor of the previous page unchanged)');
    const start = opts.cursor ? Number(opts.cursor) : 0;
    const items = newestFirst.slice(start, start + opts.limit);
    const next = start + opts.limit < newestFirst.length ? String(start + opts.limit) : undefined;
    return { items: clone(items), next };
  }
}

export class MemoryArtifactRepository implements ArtifactRepository {
  artifacts = new Map<number, Artifact>();
  files = new Map<number, Map<string, StoredFile>>();
  /** Blob rows by `<sha256>-<size>` (see shared/domain/blob-gc.ts for the states). */
  blobs = new Map<string, BlobRow>();
  relations = new Map<number, ArtifactRelation>();
  /** Artifacts an expiry pass condemned (id → condemnedAt): frozen until deleted or reprieved. */
  condemned = new Map<number, string>();
  /** The expiry index: id → when a pass should look at it (its expireAt, or later when postponed). */
  expiryIndex = new Map<number, string>();
  /** Buckets of the expiry index that have held entries since a pass last drained them. */
  expiryBucketList = new Set<string>();

  private immutableGuard(id: number, expectedVersion: number) {
    const current = this.artifacts.get(id);
    if (!current) throw new NotFoundError('Not found', `artifact ${id} not found`);
    if (current.version !== expectedVersion) throw new ConflictError('Conflict', `artifact ${id} changed concurrently`);
    if (current.immutable) throw new ConflictError('Artifact is immutable', `artifact ${id} is immutable`);
    this.condemnedGuard(id);
  }
  private condemnedGuard(id: number) {
    if (this.condemned.has(id)) throw new ConflictError('Artifact is expiring', `artifact ${id} has expired and is being deleted`);
  }
  /** Writes the expiry-index entry of an artifact (as the DynamoDB adapter's gsi3 attributes). */
  indexExpiry(id: number, checkAt: string | null) {
    if (checkAt === null) this.expiryIndex.delete(id);
    else {
      this.expiryIndex.set(id, checkAt);
      this.expiryBucketList.add(expiryBucket(checkAt));
    }
  }
  async create(artifact: Artifact, files: StoredFile[]) {
    if (this.artifacts.has(artifact.id)) throw new ConflictError('Conflict', `artifact ${artifact.id} exists`);
    const unclaimable = files.find((f) => f.complete && !blobClaimable(this.blobs.get(blobKey(f.sha256, f.size))));
    if (unclaimable) throw new BlobNotClaimableError(unclaimable.path);
    this.artifacts.set(artifact.id, clone(artifact));
    this.files.set(artifact.id, new Map(files.map((f) => [f.path, clone(f)])));
    this.indexExpiry(artifact.id, artifact.expireAt);
  }
  async get(id: number): Promise<ArtifactWithFiles | undefined> {
    const artifact = this.artifacts.get(id);
    if (!artifact) return undefined;
    return { artifact: clone(artifact), files: [...(this.files.get(id)?.values() ?? [])].map(clone) };
  }
  async list(filter: ArtifactListFilter): Promise<Page<Artifact>> {
    let start = 0;
    if (filter.cursor !== undefined) {
      if (!/^\d+$/.test(filter.cursor)) throw ValidationError.field('cursor', 'is not a cursor this server issued', 'Invalid query');
      start = Number(filter.cursor);
    }
    const all = [...this.artifacts.values()]
      .filter((a) => a.scope === filter.scope && a.workspace === filter.workspace)
      .filter((a) => !filter.category || a.category === filter.category)
      .filter((a) => !filter.createdBy || a.createdBy === filter.createdBy)
      .sort((a, b) => b.id - a.id);
    const items = all.slice(start, start + filter.limit).map(clone);
    return { items, next: start + filter.limit < all.length ? String(start + filter.limit) : undefined };
  }
  async update(artifact: Artifact, expectedVersion: number) {
    this.immutableGuard(artifact.id, expectedVersion);
    this.artifacts.set(artifact.id, clone(artifact));
    this.indexExpiry(artifact.id, artifact.expireAt);
  }
  async attachFile(artifact: Artifact, expectedVersion: number, file: StoredFile) {
    this.immutableGuard(artifact.id, expectedVersion);
    const files = this.files.get(artifact.id)!;
    if (files.has(file.path)) throw new ConflictError('File exists', `file "${file.path}" exists`);
    files.set(file.path, clone(file));
    this.artifacts.set(artifact.id, clone(artifact));
  }
  async removeFile(artifact: Artifact, expectedVersion: number, file: StoredFile) {
    this.immutableGuard(artifact.id, expectedVersion);
    if (!this.files.get(artifact.id)!.delete(file.path)) throw new NotFoundError('Not found', `file "${file.path}" not found`);
    this.artifacts.set(artifact.id, clone(artifact));
  }
  async completeFile(artifactId: number, path: string, _at: string, verified: VerifiedUpload) {
    const file = this.files.get(artifactId)?.get(path);
    const artifact = this.artifacts.get(artifactId);
    if (!file || !artifact || file.complete) return false;
    // Same condition as the DynamoDB adapter: still the row whose bytes were verified.
    if (file.sha256 !== verified.sha256 || file.size !== verified.size || file.upload?.key !== verified.uploadKey) return false;
    if (!blobClaimable(this.blobs.get(blobKey(file.sha256, file.size)))) throw new BlobNotClaimableError(path);
    file.complete = true;
    delete file.upload;
    artifact.incompleteFiles -= 1;
    return true;
  }
  async setUploadState(artifactId: number, path: string, upload: FileUploadState | undefined) {
    const file = this.files.get(artifactId)?.get(path);
    if (!file || file.complete) throw new ConflictError('Conflict', `file "${path}" is complete or gone`);
    if (upload) file.upload = clone(upload);
    else delete file.upload;
  }
  async delete(artifact: Artifact) {
    this.immutableGuard(artifact.id, artifact.version);
    this.forget(artifact.id);
  }
  /** Removes the artifact, its files, its relations both ways and its expiry-index entry. */
  forget(id: number) {
    this.artifacts.delete(id);
    this.files.delete(id);
    this.condemned.delete(id);
    this.expiryIndex.delete(id);
    for (const [relationId, r] of this.relations) if (r.artifact === id || r.target === id) this.relations.delete(relationId);
  }
  async blobVisibleInWorkspace(scope: string, workspace: string, sha256: string, size: number) {
    for (const a of this.artifacts.values()) {
      if (a.scope !== scope || a.workspace !== workspace) continue;
      for (const f of this.files.get(a.id)?.values() ?? []) if (f.complete && f.sha256 === sha256 && f.size === size) return true;
    }
    return false;
  }
  async isBlobStored(sha256: string, size: number) {
    return blobClaimable(this.blobs.get(blobKey(sha256, size)));
  }
  async claimBlobForUpload(sha256: string, size: number) {
    const key = blobKey(sha256, size);
    const claim = uploadClaim(this.blobs.get(key));
    if (claim === 'retry-later') throw new ConflictError('Blob is being deleted', `the stored copy of ${key} is being deleted: try again later`);
    if (claim === 'claim') this.blobs.set(key, { state: 'uploading' });
    return claim;
  }
  async markBlobStored(sha256: string, size: number) {
    const key = blobKey(sha256, size);
    if (this.blobs.get(key)?.state === 'uploading') this.blobs.set(key, { state: 'stored' });
  }
  async createRelation(relation: ArtifactRelation) {
    this.condemnedGuard(relation.target);
    const existing = [...this.relations.values()].find(
      (r) => r.artifact === relation.artifact && r.target === relation.target && r.type === relation.type,
    );
    if (existing) return { relation: clone(existing), created: false };
    this.relations.set(relation.id, clone(relation));
    return { relation: clone(relation), created: true };
  }
  async getRelation(id: number) {
    return clone(this.relations.get(id));
  }
  async listRelations(by: { artifact: number } | { target: number }) {
    return [...this.relations.values()]
      .filter((r) => ('artifact' in by ? r.artifact === by.artifact : r.target === by.target))
      .map(clone)
      .sort((a, b) => a.id - b.id);
  }
  async relationsPage(by: RelationEnd, opts: { limit: number; cursor?: string }) {
    const matching = [...this.relations.values()].filter((r) => ('artifact' in by ? r.artifact === by.artifact : r.target === by.target));
    return pageAfterKey(matching, (r) => relationListKey(r, by), opts.limit, opts.cursor);
  }
  relationCursorAfter(relation: ArtifactRelation, by: RelationEnd) {
    return keyCursor(relationListKey(relation, by));
  }
  async deleteRelation(relation: ArtifactRelation) {
    return this.relations.delete(relation.id);
  }
}

/** Objects in memory; tests play the client by calling `clientPut` on a presigned URL. */
export class MemoryFileStore implements FileStore {
  objects = new Map<string, Buffer>();
  /** User metadata of the objects that have some (S3's `x-amz-meta-*`). */
  metadata = new Map<string, Record<string, string>>();
  multipart = new Map<string, { key: string; parts: Map<number, Buffer> }>();
  private nextUpload = 1;

  /** What a client does with a presigned PUT URL from this store. */
  clientPut(url: string, body: Buffer) {
    const u = new URL(url);
    const key = decodeURIComponent(u.pathname.slice(1));
    const uploadId = u.searchParams.get('uploadId');
    if (uploadId) {
      const mp = this.multipart.get(uploadId);
      if (!mp) throw new Error('no such upload');
      mp.parts.set(Number(u.searchParams.get('partNumber')), body);
      return;
    }
    this.objects.set(key, body);
  }
  async presignPut(key: string, size: number, sha256Hex: string) {
    return {
      url: `memory://store/${encodeURIComponent(key)}`,
      headers: { 'content-length': String(size), 'x-amz-checksum-sha256': Buffer.from(sha256Hex, 'hex').toString('base64') },
    };
  }
  async createMultipartUpload(key: string) {
    const id = `mp${this.nextUpload++}`;
    this.multipart.set(id, { key, parts: new Map() });
    return id;
  }
  async presignUploadPart(key: string, uploadId: string, partNumber: number) {
    return `memory://store/${encodeURIComponent(key)}?uploadId=${uploadId}&partNumber=${partNumber}`;
  }
  async listUploadedParts(_key: string, uploadId: string) {
    const mp = this.multipart.get(uploadId);
    if (!mp) return [];
    return [...mp.parts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([partNumber, body]) => ({ partNumber, etag: `"${createHash('md5').update(body).digest('hex')}"`, size: body.length }));
  }
  async completeMultipartUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]) {
    const mp = this.multipart.get(uploadId);
    if (!mp) throw new Error('no such upload');
    this.objects.set(key, Buffer.concat(parts.map((p) => mp.parts.get(p.partNumber)!)));
    this.multipart.delete(uploadId);
  }
  async abortMultipartUpload(_key: string, uploadId: string) {
    this.multipart.delete(uploadId);
  }
  async verify(key: string, size: number, sha256Hex: string) {
    const body = this.objects.get(key);
    if (!body) return 'missing' as const;
    if (body.length !== size) return 'mismatch' as const;
    return createHash('sha256').update(body).digest('hex') === sha256Hex ? ('ok' as const) : ('mismatch' as const);
  }
  async head(key: string) {
    const body = this.objects.get(key);
    const metadata = this.metadata.get(key);
    return body ? { size: body.length, ...(metadata ? { metadata } : {}) } : undefined;
  }
  async presignGet(key: string) {
    return `memory://store/${encodeURIComponent(key)}?get=1`;
  }
  async put(key: string, body: Buffer, _contentType?: string, metadata?: Record<string, string>) {
    this.objects.set(key, Buffer.from(body));
    if (metadata) this.metadata.set(key, { ...metadata });
    else this.metadata.delete(key);
  }
  async list(prefix: string) {
    return [...this.objects.entries()].filter(([key]) => key.startsWith(prefix)).map(([key, body]) => ({ key, size: body.length }));
  }
  async putStream(key: string, body: Readable) {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(Buffer.from(c as Buffer));
    this.objects.set(key, Buffer.concat(chunks));
  }
  async getStream(key: string) {
    const body = this.objects.get(key);
    if (!body) throw new NotFoundError('Not found', `no object ${key}`);
    return Readable.from([body]);
  }
  async copy(fromKey: string, toKey: string) {
    const body = this.objects.get(fromKey);
    if (!body) throw new Error(`no object ${fromKey}`);
    this.objects.set(toKey, body);
  }
  async delete(key: string) {
    this.objects.delete(key);
    this.metadata.delete(key);
  }
}

export class MemoryJobQueues implements JobQueues {
  fileVerification: FileVerificationJob[] = [];
  schedulerEvents: SchedulerEvent[] = [];
  heartbeats: HeartbeatMessage[] = [];
  serverTasks: { workRequestId: number }[] = [];
  orchestration: OrchestrationMessage[] = [];
  async enqueueOrchestration(message: OrchestrationMessage) {
    this.orchestration.push(clone(message));
  }
  async enqueueFileVerification(job: FileVerificationJob) {
    this.fileVerification.push(clone(job));
  }
  async enqueueSchedulerEvent(event: SchedulerEvent) {
    this.schedulerEvents.push(clone(event));
  }
  async enqueueHeartbeat(heartbeat: HeartbeatMessage) {
    this.heartbeats.push(clone(heartbeat));
  }
  async enqueueServerTask(job: { workRequestId: number }) {
    this.serverTasks.push(clone(job));
  }
}

export class MemoryWorkRequestRepository implements WorkRequestRepository {
  items = new Map<number, WorkRequest>();
  reverse = new Map<number, Set<number>>();
  progress = new Map<number, ChildProgress>();
  /**
   * The work-request expiry index, as far as it differs from "a finished root is due at its
   * completion": root id → the check time an expiry pass moved it to (null: out of the index).
   * As in DynamoDB (the entry is part of the request item), any write of the request resets it.
   */
  expiryChecks = new Map<number, string | null>();
  /** Counts reads by method: tests check that scheduling reads stay bounded. */
  reads = { pendingCandidates: 0, itemsReturned: 0, candidatePartitions: 0 };

  constructor(private readonly workers: MemoryWorkerRepository) {}

  async get(id: number) {
    return clone(this.items.get(id));
  }
  async getMany(ids: number[]) {
    return ids.flatMap((id) => (this.items.has(id) ? [clone(this.items.get(id)!)] : []));
  }
  private listed(filter: WorkRequestListFilter): WorkRequest[] {
    return [...this.items.values()]
      .filter((w) => w.scope === filter.scope)
      .filter((w) => !filter.workspace || w.workspace === filter.workspace)
      .filter((w) => !filter.status || w.status === filter.status)
      .filter((w) => !filter.taskName || w.taskName === filter.taskName)
      .sort((a, b) => b.id - a.id);
  }
  cursorAfter(wr: WorkRequest, filter: WorkRequestListFilter): string {
    return String(this.listed(filter).filter((w) => w.id >= wr.id).length);
  }
  async list(filter: WorkRequestListFilter): Promise<Page<WorkRequest>> {
    const start = filter.cursor ? Number(filter.cursor) : 0;
    if (filter.cursor !== undefined && !/^\d+$/.test(filter.cursor)) throw ValidationError.field('cursor', 'is not a cursor this server issued', 'Invalid query');
    const all = this.listed(filter);
    const items = all.slice(start, start + filter.limit).map(clone);
    return { items, next: start + filter.limit < all.length ? String(start + filter.limit) : undefined };
  }
  /** Every commit here is one atomic step: no slot is ever left taken without its request. */
  async releaseOrphanedSlots(_takenBefore: string): Promise<number> {
    return 0;
  }
  async commit(changes: WorkRequestChanges) {
    // Check every condition first: all or nothing, like TransactWriteItems.
    for (const wr of changes.create ?? []) if (this.items.has(wr.id)) throw new ConflictError('Conflict', `work request ${wr.id} exists`);
    for (const { workRequest, expectedVersion } of changes.update ?? []) {
      const current = this.items.get(workRequest.id);
      if (!current) throw new NotFoundError('Not found', `work request ${workRequest.id} not found`);
      if (current.version !== expectedVersion) {
        throw new ConflictError(WORK_REQUEST_CHANGED, `work request ${workRequest.id}: expected version ${expectedVersion}, found ${current.version}`);
      }
    }
    const pendingSlots = new Map<string, number>();
    for (const slot of changes.slots ?? []) {
      const w = this.workers.items.get(slot.worker);
      if (!w) throw new NotFoundError('Not found', `worker ${slot.worker} not found`);
      const after = (pendingSlots.get(slot.worker) ?? w.assigned) + slot.delta;
      if (slot.delta > 0 && (!w.enabled || after > w.concurrency)) throw new ConflictError('Conflict', `worker ${slot.worker} has no free slot`);
      if (after < 0) throw new ConflictError('Conflict', `worker ${slot.worker} holds no slot`);
      if (slot.delta > 0 && slot.seen && takeFillsLastSlot(slot.seen) && (w.assigned < slot.seen.assigned || w.concurrency > slot.seen.concurrency)) {
        throw new ConflictError('Conflict', `worker ${slot.worker} has more free slots than read`);
      }
      pendingSlots.set(slot.worker, after);
    }
    for (const { workRequest, finishes } of changes.update ?? []) {
      // The finishing use cases must say so (DynamoDB cannot see the state it overwrites): a child
      // finished without `finishes` would keep its workflow's progress "in progress" forever.
      const was = this.items.get(workRequest.id)!;
      const finishing = workRequest.parent !== null && !isFinished(was) && isFinished(workRequest);
      if (workRequest.parent !== null && finishing !== (finishes === true)) {
        throw new Error(`commit: work request ${workRequest.id} ${finishing ? 'finishes without' : 'does not finish but has'} \`finishes\``);
      }
    }
    for (const [parent, d] of childProgressDeltas(changes.uncountedChildren ? [] : (changes.create ?? []), changes.update ?? [])) {
      const p = this.progress.get(parent) ?? { created: 0, finished: 0, unsuccessful: 0 };
      this.progress.set(parent, { created: p.created + d.created, finished: p.finished + d.finished, unsuccessful: p.unsuccessful + d.unsuccessful });
    }
    for (const wr of changes.create ?? []) this.items.set(wr.id, clone(wr));
    for (const { workRequest } of changes.update ?? []) {
      this.items.set(workRequest.id, clone(workRequest));
      this.expiryChecks.delete(workRequest.id);
    }
    for (const [name, assigned] of pendingSlots) this.workers.items.get(name)!.assigned = assigned;
    for (const slot of changes.slots ?? []) this.workers.slotChanged(slot);
    for (const { dependency, dependent } of changes.addReverseDependencies ?? []) {
      if (!this.reverse.has(dependency)) this.reverse.set(dependency, new Set());
      this.reverse.get(dependency)!.add(dependent);
    }
    for (const { dependency, dependent } of changes.removeReverseDependencies ?? []) this.reverse.get(dependency)?.delete(dependent);
  }
  async childProgress(workflowId: number) {
    const p = this.progress.get(workflowId);
    return p && { ...p };
  }
  async raiseChildrenCreated(workflowId: number, created: number) {
    const p = this.progress.get(workflowId) ?? { created: 0, finished: 0, unsuccessful: 0 };
    if (p.created < created) this.progress.set(workflowId, { ...p, created });
  }
  async children(parentId: number) {
    return [...this.items.values()].filter((w) => w.parent === parentId).sort((a, b) => a.id - b.id).map(clone);
  }
  async reverseDependencies(id: number) {
    return [...(this.reverse.get(id) ?? [])].sort((a, b) => a - b);
  }
  async pendingCandidates(taskType: TaskType, architecture: string | null, limit: number, partitions?: CandidatePartitions) {
    // Like the DynamoDB markers: a partition known to be empty is not read at all.
    if (partitions && !partitions.mayHold(taskType, architecture)) return [];
    this.reads.pendingCandidates++;
    const found = this.pendingIn(taskType, architecture)
      .sort((a, b) => b.priorityBase + b.priorityAdjustment - (a.priorityBase + a.priorityAdjustment) || byCodeUnit(a.createdAt, b.createdAt) || a.id - b.id)
      .slice(0, limit)
      .map(clone);
    this.reads.itemsReturned += found.length;
    return found;
  }
  /** The markers here are exact (read from the requests themselves): nothing to set. */
  pendingBatch(): PendingBatch {
    return { close: async () => undefined };
  }
  /** Exact, as of the call (the DynamoDB markers may say "may hold" of an empty partition: never the reverse). */
  async candidatePartitions(opts: { trusted?: boolean } = {}): Promise<CandidatePartitions> {
    this.reads.candidatePartitions++;
    const holding = new Set([...this.items.values()].filter((w) => this.isPendingCandidate(w)).map((w) => `${w.taskType}#${w.hostArchitecture ?? '-'}`));
    const trusted = opts.trusted ?? true;
    return { mayHold: (taskType, architecture) => !trusted || holding.has(`${taskType}#${architecture ?? '-'}`) };
  }
  private isPendingCandidate(w: WorkRequest): boolean {
    return w.status === 'pending' && w.worker === null;
  }
  private pendingIn(taskType: TaskType, architecture: string | null): WorkRequest[] {
    return [...this.items.values()].filter((w) => this.isPendingCandidate(w) && w.taskType === taskType && w.hostArchitecture === architecture);
  }
  /**
   * As DynamoDB reads it (worker-holders.ts): the worker's slot holders still assigned to it and not
   * finished; while `assigned` exceeds its holders (a slot taken before holders, written into `items`
   * by a test), every request active on it too, each given a holder.
   */
  async activeForWorker(worker: string, _read?: Worker, finished?: number) {
    const activeOn = (wr: WorkRequest | undefined): wr is WorkRequest => wr?.worker === worker && (wr.status === 'pending' || wr.status === 'running');
    const w = this.workers.items.get(worker);
    const held = this.workers.holdersOf(worker);
    const found = [...held].map((id) => this.items.get(id)).filter(activeOn);
    if (!w || w.assigned > held.size) {
      for (const wr of this.items.values()) {
        if (held.has(wr.id) || !activeOn(wr)) continue;
        found.push(wr);
        if (w) held.add(wr.id);
      }
    }
    return found
      .filter((wr) => wr.id !== finished)
      .sort((a, b) => a.id - b.id)
      .map(clone);
  }
  async staleRunning(before: string, limit: number) {
    return [...this.items.values()]
      .filter((w) => w.status === 'running' && w.taskType === 'Worker' && (w.heartbeatAt ?? w.startedAt ?? '') < before)
      .slice(0, limit)
      .map(clone);
  }
  async runningWorkflows(startedBefore: string, limit: number) {
    return [...this.items.values()]
      .filter((w) => w.status === 'running' && w.taskType === 'Workflow' && (w.startedAt ?? w.createdAt) < startedBefore)
      .sort((a, b) => byCodeUnit(a.startedAt ?? a.createdAt, b.startedAt ?? b.createdAt))
      .slice(0, limit)
      .map(clone);
  }
  async dueWaits(now: string, limit: number) {
    return [...this.items.values()]
      .filter((w) => w.status === 'running' && w.taskType === 'Wait' && new Date(String(w.taskData['delay_until'])).toISOString() <= now)
      .slice(0, limit)
      .map(clone);
  }
  async applyHeartbeat(h: HeartbeatMessage) {
    const wr = this.items.get(h.workRequestId);
    if (!wr || wr.status !== 'running' || wr.worker !== h.worker) return false;
    if (wr.heartbeatAt !== null && wr.heartbeatAt >= h.at) return false;
    wr.heartbeatAt = h.at;
    wr.logtail = [...h.logtail];
    return true;
  }
}

export class MemoryWorkerRepository implements WorkerRepository {
  items = new Map<string, Worker>();
  async create(worker: Worker) {
    if (this.items.has(worker.name)) throw new ConflictError('Name taken', `worker ${worker.name} exists`);
    this.items.set(worker.name, clone(worker));
    this.applyFreeSlotRule(worker);
  }
  async get(name: string) {
    return clone(this.items.get(name));
  }
  async list() {
    return [...this.items.values()].filter((w) => w.enabled).map(clone).sort((a, b) => byCodeUnit(a.name, b.name));
  }
  async listDisabled() {
    return [...this.items.values()].filter((w) => !w.enabled).map(clone).sort((a, b) => byCodeUnit(a.name, b.name));
  }
  async update(worker: Worker, expectedVersion: number) {
    const current = this.items.get(worker.name);
    if (!current) throw new NotFoundError('Not found', `worker ${worker.name} not found`);
    if (current.version !== expectedVersion) throw new ConflictError('Conflict', `worker ${worker.name} changed concurrently`);
    this.items.set(worker.name, { ...clone(worker), assigned: current.assigned });
    this.applyFreeSlotRule(worker);
  }
  /** Names in the free-slot index, with the DynamoDB adapter's rules (a superset; see shared/domain/free-slots.ts). */
  freeSlots = new Set<string>();
  private applyFreeSlotRule(worker: Worker) {
    const change = freeSlotOnUpdate(worker);
    if (change === 'add') this.freeSlots.add(worker.name);
    else if (change === 'remove') this.freeSlots.delete(worker.name);
  }
  /** Each worker's slot holders (`slot#<id>` on its DynamoDB item): the requests that took its slots. */
  private holders = new Map<string, Set<number>>();
  holdersOf(name: string): Set<number> {
    if (!this.holders.has(name)) this.holders.set(name, new Set());
    return this.holders.get(name)!;
  }
  /** Called by the work-request fake's commit, after its conditions held. */
  slotChanged(slot: SlotChange) {
    if (slot.workRequestId !== undefined) {
      if (slot.delta > 0) this.holdersOf(slot.worker).add(slot.workRequestId);
      else this.holdersOf(slot.worker).delete(slot.workRequestId);
    }
    if (slot.delta < 0) this.freeSlots.add(slot.worker);
    else if (slot.seen && takeFillsLastSlot(slot.seen)) this.freeSlots.delete(slot.worker);
  }
  async withFreeSlots() {
    return [...this.freeSlots].flatMap((name) => (this.items.has(name) ? [clone(this.items.get(name)!)] : [])).sort((a, b) => byCodeUnit(a.name, b.name));
  }
  async dropFromFreeSlots(worker: Worker, verdict: Exclude<FreeSlotVerdict, 'usable'>) {
    const current = this.items.get(worker.name);
    if (!current || !this.freeSlots.has(worker.name)) return false;
    const holds =
      verdict === 'full' ? current.assigned >= current.concurrency : current.version === worker.version && (verdict !== 'stale' || current.lastSeenAt === worker.lastSeenAt);
    if (!holds) return false;
    this.freeSlots.delete(worker.name);
    if (verdict === 'stale') this.items.set(worker.name, { ...current, connectedAt: null, version: current.version + 1 });
    return true;
  }
  async touch(name: string, at: Date, minIntervalMs: number) {
    const w = this.items.get(name);
    if (!w) return;
    if (!w.lastSeenAt || Date.parse(w.lastSeenAt) < at.getTime() - minIntervalMs) w.lastSeenAt = at.toISOString();
  }
}

export class MemoryWorkflowTemplateRepository implements WorkflowTemplateRepository {
  items = new Map<number, WorkflowTemplate>();
  runs = new Map<string, { run: RunNumber; workRequestId: number }[]>();
  private taken(t: WorkflowTemplate) {
    return [...this.items.values()].some((o) => o.id !== t.id && o.scope === t.scope && o.workspace === t.workspace && o.name === t.name);
  }
  async create(t: WorkflowTemplate) {
    if (this.taken(t) || this.items.has(t.id)) throw new ConflictError('Template exists', `a workflow template "${t.name}" already exists`);
    this.items.set(t.id, clone(t));
  }
  async get(id: number) {
    return clone(this.items.get(id));
  }
  async getByName(scope: string, workspace: string, name: string) {
    return clone([...this.items.values()].find((t) => t.scope === scope && t.workspace === workspace && t.name === name));
  }
  async list(scope: string, workspace: string) {
    return [...this.items.values()].filter((t) => t.scope === scope && t.workspace === workspace).map(clone).sort((a, b) => byCodeUnit(a.name, b.name));
  }
  async listPage(scope: string, workspace: string, opts: { limit: number; cursor?: string }) {
    const mine = [...this.items.values()].filter((t) => t.scope === scope && t.workspace === workspace);
    return pageAfterKey(mine, (t) => t.name, opts.limit, opts.cursor);
  }
  async update(t: WorkflowTemplate, expectedVersion: number) {
    const current = this.items.get(t.id);
    if (!current) throw new NotFoundError('Not found', 'Workflow template not found');
    if (current.version !== expectedVersion) throw new ConflictError('Conflict', 'template changed concurrently');
    if (this.taken(t)) throw new ConflictError('Template exists', `a workflow template "${t.name}" already exists`);
    this.items.set(t.id, clone(t));
  }
  async delete(t: WorkflowTemplate) {
    this.items.delete(t.id);
  }
  async recordRun(scope: string, workspace: string, name: string, run: RunNumber, workRequestId: number) {
    const key = `${scope}/${workspace}/${name}`;
    this.runs.set(key, [...(this.runs.get(key) ?? []).filter((r) => r.run.major !== run.major || r.run.minor !== run.minor), { run: { ...run }, workRequestId }]);
  }
  async findRun(scope: string, workspace: string, name: string, run?: RunNumber) {
    const all = [...(this.runs.get(`${scope}/${workspace}/${name}`) ?? [])].sort((a, b) => b.run.major - a.run.major || b.run.minor - a.run.minor);
    return clone(run ? all.find((r) => r.run.major === run.major && r.run.minor === run.minor) : all[0]);
  }
}

export class MemoryChannels implements NotificationChannelRepository {
  items = new Map<string, NotificationChannel>();
  async get(name: string) {
    return clone(this.items.get(name));
  }
  async put(channel: NotificationChannel) {
    this.items.set(channel.name, clone(channel));
  }
  async list() {
    return [...this.items.values()].map(clone);
  }
}

export class MemoryNotifier implements Notifier {
  sent: Email[] = [];
  async send(email: Email) {
    this.sent.push(clone(email));
  }
}

/** Worker queues in memory: tests read what each worker was told. */
export class MemoryWorkerChannels implements WorkerChannels {
  queues = new Map<string, WorkerMessage[]>();
  async createQueue(workerName: string) {
    const url = `memory://queues/conveyor-worker-${workerName}`;
    if (!this.queues.has(url)) this.queues.set(url, []);
    return url;
  }
  async send(queueUrl: string, message: WorkerMessage) {
    this.queues.get(queueUrl)?.push(clone(message));
  }
  async access(queueUrl: string): Promise<QueueAccess> {
    return { queueUrl, region: 'local' };
  }
  messagesFor(workerName: string): WorkerMessage[] {
    return this.queues.get(`memory://queues/conveyor-worker-${workerName}`) ?? [];
  }
}

export class MemorySequences implements Sequences {
  private counters = new Map<string, number>();
  async next(name: string) {
    const n = (this.counters.get(name) ?? 0) + 1;
    this.counters.set(name, n);
    return n;
  }
}

export class ManualClock implements Clock {
  constructor(public current = new Date('2026-01-01T00:00:00Z')) {}
  now() {
    return new Date(this.current);
  }
  advance(ms: number) {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export class CountingIds implements IdGenerator {
  private n = 0;
  random() {
    return `id${(++this.n).toString().padStart(12, '0')}`;
  }
}

export type MemoryDeps = Deps & {
  identity: MemoryIdentityRepository;
  artifacts: MemoryArtifactRepository;
  audit: MemoryAuditLog;
  files: MemoryFileStore;
  queues: MemoryJobQueues;
  workRequests: MemoryWorkRequestRepository;
  workers: MemoryWorkerRepository;
  workerChannels: MemoryWorkerChannels;
  templates: MemoryWorkflowTemplateRepository;
  collections: MemoryCollectionRepository;
  channels: MemoryChannels;
  notifier: MemoryNotifier;
  clock: ManualClock;
  accounts: MemoryAccountsRepository;
  /** The accounts repository itself (it answers getQuota). */
  quotas: MemoryAccountsRepository;
  accountingQueue: MemoryAccountingQueue;
  schema: MemorySchemaStore;
  recurringJobs: MemoryRecurringJobRepository;
  /** The recurring-job repository itself (it keeps the machines' events). */
  machineEventLog: MemoryRecurringJobRepository;
};

export function createMemoryDeps(): MemoryDeps {
  const workers = new MemoryWorkerRepository();
  const artifacts = new MemoryArtifactRepository();
  const identity = new MemoryIdentityRepository();
  const accounts = new MemoryAccountsRepository(identity);
  const recurringJobs = new MemoryRecurringJobRepository();
  return {
    accounts,
    quotas: accounts,
    accountingQueue: new MemoryAccountingQueue(),
    schema: new MemorySchemaStore(),
    workRequests: new MemoryWorkRequestRepository(workers),
    workers,
    workerChannels: new MemoryWorkerChannels(),
    templates: new MemoryWorkflowTemplateRepository(),
    collections: new MemoryCollectionRepository((id) => artifacts.condemned.has(id)),
    channels: new MemoryChannels(),
    notifier: new MemoryNotifier(),
    identity,
    artifacts,
    audit: new MemoryAuditLog(),
    files: new MemoryFileStore(),
    queues: new MemoryJobQueues(),
    sequences: new MemorySequences(),
    clock: new ManualClock(),
    ids: new CountingIds(),
    recurringJobs,
    machineEventLog: recurringJobs,
  };
}

/** The DynamoDB adapter's order of a relation listing: by the other end's id, then the type. */
function relationListKey(r: ArtifactRelation, by: RelationEnd): string {
  return `${String('artifact' in by ? r.target : r.artifact).padStart(16, '0')}#${r.type}`;
}
