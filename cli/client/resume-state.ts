/**
 * Lets a re-run of the same `artifact create` finish the artifact an interrupted run
 * created instead of creating a second one. The record is keyed by everything that
 * makes two create commands "the same": server, scope, workspace, category, data,
 * expiration and immutability, and every file's path, size and SHA-256. It lives under the user's cache directory
 * and is removed once the artifact is complete.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HashedFile } from './files';

export interface CreateIdentity {
  server: string;
  scope?: string;
  workspace?: string;
  category: string;
  data: Record<string, unknown>;
  immutable: boolean;
  expirationDelay?: number | string;
  files: Pick<HashedFile, 'path' | 'size' | 'sha256'>[];
}

export interface ResumeRecord {
  artifactId: number;
  server: string;
  createdAt: string;
}

export function resumeStateDir(env: NodeJS.ProcessEnv, homeDir: string): string {
  return join(env.XDG_CACHE_HOME || join(homeDir, '.cache'), 'conveyor', 'pending-artifacts');
}

/** JSON with sorted keys, so that equal data gives an equal key whatever the key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function resumeKey(identity: CreateIdentity): string {
  const files = [...identity.files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => [f.path, f.size, f.sha256]);
  const material = canonicalJson({
    server: identity.server,
    scope: identity.scope ?? '',
    workspace: identity.workspace ?? '',
    category: identity.category,
    data: identity.data,
    immutable: identity.immutable,
    expirationDelay: identity.expirationDelay ?? null,
    files,
  });
  return createHash('sha256').update(material).digest('hex');
}

export class ResumeStateStore {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  async load(key: string): Promise<ResumeRecord | undefined> {
    const path = this.file(key);
    if (!existsSync(path)) return undefined;
    try {
      const record = JSON.parse(await readFile(path, 'utf8')) as ResumeRecord;
      return Number.isInteger(record.artifactId) ? record : undefined;
    } catch {
      // A damaged record only costs a fresh artifact.
      return undefined;
    }
  }

  async save(key: string, record: ResumeRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // Write then rename: an interrupted write never leaves a half record behind.
    const temporary = `${this.file(key)}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(record) + '\n', { mode: 0o600 });
    await rename(temporary, this.file(key));
  }

  async remove(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  /** Forgets every record of this artifact (after `artifact upload` finished it). */
  async removeArtifact(server: string, artifactId: number): Promise<void> {
    if (!existsSync(this.dir)) return;
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const key = name.slice(0, -'.json'.length);
      const record = await this.load(key);
      if (record && record.server === server && record.artifactId === artifactId) await this.remove(key);
    }
  }
}
