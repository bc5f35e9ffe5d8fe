/**
 * Key and index values of every item Conveyor keeps in DynamoDB (see docs/data-model.md).
 * One place builds them, so the repositories cannot disagree about a key.
 */
import { createHash } from 'node:crypto';
import { blobKey } from '../../domain/artifacts';
import { ValidationError } from '../../domain/errors';

export interface Key {
  pk: string;
  sk: string;
}

/** Names of the two global secondary indexes of the main table (shared/manifest.ts). */
export const GSI1 = 'gsi1';
export const GSI2 = 'gsi2';
/** Third index of the main table: scheduling (pending by partition, running by heartbeat, waits by due time). */
export const GSI3 = 'gsi3';
/** Fourth index of the main table: the work-request listing (`WRS#<scope>`), projecting only `workspace` and `taskName`. */
export const GSI4 = 'gsi4';

/** Sort-key prefix of the reverse-dependency links in a work request's partition. */
export const REVERSE_DEPENDENCIES = 'RDEP#';

/**
 * Number of shards of each scheduling partition (`PENDING#…`, `RUNNING#…`, `WAIT#…`): a request
 * goes to shard `id % 4`, readers query every shard and merge. Spreads hot writes over four
 * index partitions (DESIGN: shard any key that could exceed 1,000 writes/s).
 */
export const WORK_REQUEST_SHARDS = 4;

export function workRequestShard(id: number): number {
  padId(id); // validates
  return id % WORK_REQUEST_SHARDS;
}

/** Sort-key prefixes of a collection's partition (`COL#<id>`): item history and active items. */
export const ITEM_HISTORY = 'I#';
export const ACTIVE_ITEMS = 'N#';
/** Sort-key prefix of the collection-name claims in a workspace's partition. */
export const COLLECTION_NAMES = 'COL#';

/** Sort keys below this value in an `ART#` partition are the artifact item and its file rows. */
export const RELATIONS_FROM = 'R#';

/** A name that becomes part of a key must not contain the separator. */
function part(value: string, field: string): string {
  if (value.length === 0 || value.includes('#')) throw ValidationError.field(field, 'must be non-empty and must not contain "#"');
  return value;
}

/** Artifact and relation ids, zero-padded so that they sort numerically inside a key. */
export function padId(id: number): string {
  if (!Number.isSafeInteger(id) || id < 0) throw ValidationError.field('id', 'must be a non-negative integer');
  return String(id).padStart(16, '0');
}

/** An ISO timestamp in its canonical form (`toISOString`), so that keys sort by time. */
export function timeKey(iso: string, field = 'at'): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw ValidationError.field(field, 'must be an ISO 8601 timestamp');
  return new Date(ms).toISOString();
}

/**
 * Sort key of a file row. Keys are limited to 1,024 bytes while a path may take up to
 * 2,000 (500 characters of UTF-8): longer ones are keyed by the SHA-256 of the path
 * under `FL#`, which cannot clash with `F#<path>`. The `path` attribute always holds the path.
 */
export function fileSk(path: string): string {
  const sk = `F#${path}`;
  if (Buffer.byteLength(sk, 'utf8') <= 1024) return sk;
  return `FL#${createHash('sha256').update(path, 'utf8').digest('hex')}`;
}

export const keys = {
  scope: (name: string): Key => ({ pk: `SCOPE#${part(name, 'scope')}`, sk: 'S' }),
  workspace: (scope: string, name: string): Key => ({ pk: workspacePk(scope, name), sk: 'W' }),
  role: (scope: string, workspace: string, username: string): Key => ({
    pk: workspacePk(scope, workspace),
    sk: `ROLE#${part(username, 'username')}`,
  }),
  user: (username: string): Key => ({ pk: `USER#${part(username, 'username')}`, sk: 'U' }),
  token: (hash: string): Key => ({ pk: `TOKEN#${part(hash, 'hash')}`, sk: 'T' }),
  artifact: (id: number): Key => ({ pk: artifactPk(id), sk: 'A' }),
  file: (artifactId: number, path: string): Key => ({ pk: artifactPk(artifactId), sk: fileSk(path) }),
  relation: (artifact: number, target: number, type: string): Key => ({
    pk: artifactPk(artifact),
    sk: `${RELATIONS_FROM}${padId(target)}#${type}`,
  }),
  blob: (sha256: string, size: number): Key => ({ pk: `BLOB#${blobKey(sha256, size)}`, sk: 'B' }),
  sequence: (name: string): Key => ({ pk: `SEQ#${name}`, sk: 'N' }),
  workRequest: (id: number): Key => ({ pk: workRequestPk(id), sk: 'W' }),
  /** Link dependency → dependent, in the dependency's partition. */
  reverseDependency: (dependency: number, dependent: number): Key => ({
    pk: workRequestPk(dependency),
    sk: `${REVERSE_DEPENDENCIES}${padId(dependent)}`,
  }),
  worker: (name: string): Key => ({ pk: `WORKER#${part(name, 'name')}`, sk: 'K' }),
  collection: (id: number): Key => ({ pk: collectionPk(id), sk: 'C' }),
  /** The claim of a (workspace, category, name) triple, in the workspace's partition; holds a copy of the collection. */
  collectionName: (scope: string, workspace: string, category: string, name: string): Key => ({
    pk: workspacePk(scope, workspace),
    sk: `${COLLECTION_NAMES}${part(category, 'category')}#${part(name, 'name')}`,
  }),
  /** One version of an item (active or removed), by item id. */
  collectionItem: (collectionId: number, itemId: number): Key => ({ pk: collectionPk(collectionId), sk: `${ITEM_HISTORY}${padId(itemId)}` }),
  /** The active item of a name: at most one, so its key is the name. */
  activeItem: (collectionId: number, name: string): Key => ({ pk: collectionPk(collectionId), sk: activeItemSk(name) }),
  /** Audit table: one partition per UTC day, entries sorted by time. */
  auditEntry: (day: string, at: string, id: string): Key => ({ pk: `DAY#${day}`, sk: `${at}#${id}` }),
  /** Audit table: one item per day that holds entries, so listing never walks empty days. */
  auditDay: (day: string): Key => ({ pk: 'DAYS', sk: day }),
};

/** Partition values of the index entries (gsi1pk / gsi2pk). */
export const indexKeys = {
  users: () => 'USERS',
  tokens: () => 'TOKENS',
  tokenById: (id: string) => `TOKENID#${part(id, 'id')}`,
  workspaces: (scope: string) => `WORKSPACES#${part(scope, 'scope')}`,
  rolesOfUser: (username: string) => `USERROLES#${part(username, 'username')}`,
  workspaceArtifacts: (scope: string, workspace: string) => `WSART#${part(scope, 'scope')}#${part(workspace, 'workspace')}`,
  workspaceCategory: (scope: string, workspace: string, category: string) =>
    `WSCAT#${part(scope, 'scope')}#${part(workspace, 'workspace')}#${part(category, 'category')}`,
  workspaceBlob: (scope: string, workspace: string, sha256: string, size: number) =>
    `WSBLOB#${part(scope, 'scope')}#${part(workspace, 'workspace')}#${blobKey(sha256, size)}`,
  relationsTo: (target: number) => `RELTO#${target}`,
  relationById: (id: number) => `REL#${id}`,
  /** gsi4 (gsi1 before schema revision 0004): every work request of a scope, sorted by creation. */
  scopeWorkRequests: (scope: string) => `WRS#${part(scope, 'scope')}`,
  /** gsi2: requests assigned to a worker and not finished. */
  workerActive: (worker: string) => `WORKERWR#${part(worker, 'worker')}`,
  /** gsi1: every worker, sorted by name. */
  workers: () => 'WORKERS',
  /** gsi1: disabled workers (unapproved registrations among them), kept out of `WORKERS`. */
  disabledWorkers: () => 'WORKERS#DISABLED',
  /** gsi3: unassigned pending requests of one scheduling partition (`-` stands for no architecture). */
  pending: (taskType: string, architecture: string | null, shard: number) =>
    `PENDING#${part(taskType, 'taskType')}#${architecture === null ? '-' : architecturePart(architecture)}#${shard}`,
  /** gsi3: running Worker tasks, sorted by last sign of life. */
  running: (shard: number) => `RUNNING#${shard}`,
  /** gsi3: running workflows, sorted by start. */
  runningWorkflows: (shard: number) => `WFRUNNING#${shard}`,
  /** gsi3: workers that may have a free slot (shared/domain/free-slots.ts), sorted by name. */
  freeSlots: (shard: number) => `FREESLOTS#${shard}`,
  /** gsi3: running Wait tasks, sorted by due time. */
  waiting: (shard: number) => `WAIT#${shard}`,
};

export function workRequestPk(id: number): string {
  padId(id); // validates
  return `WR#${id}`;
}

/** `-` is the key's stand-in for "no architecture": a real architecture may not be spelled so. */
function architecturePart(architecture: string): string {
  if (architecture === '-') throw ValidationError.field('hostArchitecture', 'must not be "-"');
  return part(architecture, 'hostArchitecture');
}

export function collectionPk(id: number): string {
  padId(id); // validates
  return `COL#${id}`;
}

/** `N#<name>`; item names are at most 255 characters, so this fits the 1,024-byte key limit. */
export function activeItemSk(name: string): string {
  const sk = `${ACTIVE_ITEMS}${name}`;
  if (name.length === 0 || Buffer.byteLength(sk, 'utf8') > 1024) throw ValidationError.field('name', 'must be non-empty and at most 1,022 bytes');
  return sk;
}

export function artifactPk(id: number): string {
  padId(id); // validates
  return `ART#${id}`;
}

function workspacePk(scope: string, name: string): string {
  return `WS#${part(scope, 'scope')}#${part(name, 'workspace')}`;
}
