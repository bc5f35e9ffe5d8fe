/**
 * In-memory fakes of every port, for unit tests of use cases and HTTP routes. They keep
 * the same conditional semantics as the real adapters (version checks, immutability,
 * completeness), so a use case that forgets a condition fails here too.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Artifact, ArtifactRelation } from '../../domain/artifacts';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import type { Role } from '../../domain/roles';
import type { AuditEntry, RoleGrant, Scope, Token, User, Workspace } from '../../domain/tenancy';
import type {
  ArtifactListFilter,
  ArtifactRepository,
  ArtifactWithFiles,
  AuditLog,
  Clock,
  Deps,
  FileStore,
  FileUploadState,
  FileVerificationJob,
  IdentityRepository,
  IdGenerator,
  JobQueues,
  Page,
  Sequences,
  StoredFile,
} from '../../ports';

const clone = <T>(v: T): T => structuredClone(v);
/** DynamoDB sorts keys by code unit, not by locale. */
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class MemoryIdentityRepository implements IdentityRepository {
  scopes = new Map<string, Scope>();
  workspaces = new Map<string, Workspace>();
  users = new Map<string, User>();
  tokens = new Map<string, Token>();
  roles = new Map<string, RoleGrant>();

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
    const start = opts.cursor ? Number(opts.cursor) : 0;
    const items = newestFirst.slice(start, start + opts.limit);
    const next = start + opts.limit < newestFirst.length ? String(start + opts.limit) : undefined;
    return { items: clone(items), next };
  }
}

export class MemoryArtifactRepository implements ArtifactRepository {
  artifacts = new Map<number, Artifact>();
  files = new Map<number, Map<string, StoredFile>>();
  blobs = new Set<string>();
  relations = new Map<number, ArtifactRelation>();

  private immutableGuard(id: number, expectedVersion: number) {
    const current = this.artifacts.get(id);
    if (!current) throw new NotFoundError('Not found', `artifact ${id} not found`);
    if (current.version !== expectedVersion) throw new ConflictError('Conflict', `artifact ${id} changed concurrently`);
    if (current.immutable) throw new ConflictError('Artifact is immutable', `artifact ${id} is immutable`);
  }
  async create(artifact: Artifact, files: StoredFile[]) {
    if (this.artifacts.has(artifact.id)) throw new ConflictError('Conflict', `artifact ${artifact.id} exists`);
    this.artifacts.set(artifact.id, clone(artifact));
    this.files.set(artifact.id, new Map(files.map((f) => [f.path, clone(f)])));
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
  async completeFile(artifactId: number, path: string, _at: string) {
    const file = this.files.get(artifactId)?.get(path);
    const artifact = this.artifacts.get(artifactId);
    if (!file || !artifact || file.complete) return false;
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
    this.artifacts.delete(artifact.id);
    this.files.delete(artifact.id);
    for (const [id, r] of this.relations) if (r.artifact === artifact.id || r.target === artifact.id) this.relations.delete(id);
  }
  async blobVisibleInWorkspace(scope: string, workspace: string, sha256: string, size: number) {
    for (const a of this.artifacts.values()) {
      if (a.scope !== scope || a.workspace !== workspace) continue;
      for (const f of this.files.get(a.id)?.values() ?? []) if (f.complete && f.sha256 === sha256 && f.size === size) return true;
    }
    return false;
  }
  async isBlobStored(sha256: string, size: number) {
    return this.blobs.has(`${sha256}-${size}`);
  }
  async markBlobStored(sha256: string, size: number) {
    this.blobs.add(`${sha256}-${size}`);
  }
  async createRelation(relation: ArtifactRelation) {
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
  async deleteRelation(relation: ArtifactRelation) {
    return this.relations.delete(relation.id);
  }
}

/** Objects in memory; tests play the client by calling `clientPut` on a presigned URL. */
export class MemoryFileStore implements FileStore {
  objects = new Map<string, Buffer>();
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
    return body ? { size: body.length } : undefined;
  }
  async presignGet(key: string) {
    return `memory://store/${encodeURIComponent(key)}?get=1`;
  }
  async put(key: string, body: Buffer) {
    this.objects.set(key, Buffer.from(body));
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
  }
}

export class MemoryJobQueues implements JobQueues {
  fileVerification: FileVerificationJob[] = [];
  async enqueueFileVerification(job: FileVerificationJob) {
    this.fileVerification.push(clone(job));
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
  clock: ManualClock;
};

export function createMemoryDeps(): MemoryDeps {
  return {
    identity: new MemoryIdentityRepository(),
    artifacts: new MemoryArtifactRepository(),
    audit: new MemoryAuditLog(),
    files: new MemoryFileStore(),
    queues: new MemoryJobQueues(),
    sequences: new MemorySequences(),
    clock: new ManualClock(),
    ids: new CountingIds(),
  };
}
