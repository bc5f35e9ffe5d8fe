/**
 * In-memory AccountsRepository with the DynamoDB adapter's conditions: every write checks the
 * version it was read at, and an accounting change applies all of its parts or none.
 */
import { ConflictError, NotFoundError } from '../../domain/errors';
import { emptyQuota, type Account, type Quota, type Resource } from '../../domain/quotas';
import type { Token, User } from '../../domain/tenancy';
import type { AccountingChange, AccountingRewrite, AccountsRepository, Contribution, FileReference, UsageSource } from '../../ports/accounts';
import { clone } from './paging';

export function accountKey(account: Account): string {
  return account.kind === 'user' ? `user:${account.username}` : `workspace:${account.scope}/${account.workspace}`;
}

function accountOf(key: string): Account {
  if (key.startsWith('user:')) return { kind: 'user', username: key.slice(5) };
  const [scope, workspace] = key.slice('workspace:'.length).split('/') as [string, string];
  return { kind: 'workspace', scope, workspace };
}

export function sourceKey(source: UsageSource): string {
  return `${source.kind}:${source.id}`;
}

function sourceOf(key: string): UsageSource {
  const [kind, id] = key.split(':') as ['artifact' | 'work-request', string];
  return { kind, id: Number(id) };
}

/** The memory identity repository's maps (users and tokens live there; accounts change them in place). */
export interface IdentityMaps {
  users: Map<string, User>;
  tokens: Map<string, Token>;
}

export class MemoryAccountsRepository implements AccountsRepository {
  /** (user, purpose) → token id. */
  claims = new Map<string, string>();
  workspaceQuotas = new Map<string, Quota>();
  contributions = new Map<string, Map<string, Contribution>>();
  fileRefs = new Map<string, Map<string, FileReference>>();

  constructor(private readonly identity: IdentityMaps) {}

  private user(username: string): User {
    const user = this.identity.users.get(username);
    if (!user) throw new NotFoundError('Not found', `no user "${username}"`);
    return user;
  }

  async setUserDisabled(username: string, disabled: boolean): Promise<User> {
    const user = this.user(username);
    user.disabled = disabled;
    return clone(user);
  }

  async requestToken(token: Token): Promise<void> {
    this.claim(token);
    this.identity.tokens.set(token.hash, clone(token));
  }

  async createClaimedToken(token: Token): Promise<void> {
    if (this.identity.tokens.has(token.hash)) throw new ConflictError('Token exists', 'token already exists');
    this.claim(token);
    this.identity.tokens.set(token.hash, clone(token));
  }

  private claim(token: Token): void {
    const key = `${token.username}/${token.purpose}`;
    const holder = this.claims.get(key);
    if (holder !== undefined) throw new ConflictError('Token exists', `user "${token.username}" already has a ${token.purpose} token (${holder}) requested or active`);
    this.claims.set(key, token.id);
  }

  async grantRequestedToken(requested: Token, granted: Token): Promise<void> {
    const stored = this.identity.tokens.get(requested.hash);
    if (!stored || stored.status !== 'requested' || stored.version !== requested.version) throw new ConflictError('Conflict', 'the token is no longer requested');
    if (this.identity.tokens.has(granted.hash)) throw new ConflictError('Token exists', 'token already exists');
    this.identity.tokens.delete(requested.hash);
    this.identity.tokens.set(granted.hash, clone(granted));
  }

  async revokeClaimedToken(token: Token, expectedVersion: number): Promise<void> {
    if (this.identity.tokens.get(token.hash)?.version !== expectedVersion) throw new ConflictError('Conflict', 'token changed concurrently');
    this.identity.tokens.set(token.hash, clone(token));
    const key = `${token.username}/${token.purpose}`;
    if (this.claims.get(key) === token.id) this.claims.delete(key);
  }

  async claimedToken(username: string, purpose: string): Promise<string | undefined> {
    return this.claims.get(`${username}/${purpose}`);
  }

  async putClaim(username: string, purpose: string, tokenId: string): Promise<boolean> {
    const key = `${username}/${purpose}`;
    if (this.claims.has(key)) return false;
    this.claims.set(key, tokenId);
    return true;
  }

  async deleteClaim(username: string, purpose: string): Promise<boolean> {
    return this.claims.delete(`${username}/${purpose}`);
  }

  async initialiseUserQuota(username: string, limits: Record<Resource, number>): Promise<void> {
    const user = this.user(username);
    if (!user.quota) user.quota = emptyQuota(limits);
  }

  async removeUserQuota(username: string): Promise<void> {
    delete this.user(username).quota;
  }

  private quotaRef(account: Account, create: boolean): Quota {
    if (account.kind === 'user') {
      const user = this.user(account.username);
      if (!user.quota) user.quota = emptyQuota();
      return user.quota;
    }
    const key = accountKey(account);
    let quota = this.workspaceQuotas.get(key);
    if (!quota) {
      quota = emptyQuota();
      if (create) this.workspaceQuotas.set(key, quota);
    }
    return quota;
  }

  async getQuota(account: Account): Promise<Quota> {
    return clone(this.quotaRef(account, false));
  }

  async setLimit(account: Account, resource: Resource, limit: number): Promise<Quota> {
    const quota = this.quotaRef(account, true);
    quota[resource].limit = limit;
    return clone(quota);
  }

  async correctUsed(account: Account, resource: Resource, expected: number, used: number): Promise<boolean> {
    const quota = this.quotaRef(account, true);
    if (quota[resource].used !== expected) return false;
    quota[resource].used = used;
    return true;
  }

  async getContribution(account: Account, source: UsageSource): Promise<Contribution | undefined> {
    return clone(this.contributions.get(accountKey(account))?.get(sourceKey(source)));
  }

  async getFileRefs(account: Account, fileKeys: string[]): Promise<Map<string, FileReference>> {
    const refs = this.fileRefs.get(accountKey(account));
    const out = new Map<string, FileReference>();
    for (const k of fileKeys) {
      const ref = refs?.get(k);
      if (ref) out.set(k, clone(ref));
    }
    return out;
  }

  async applyAccounting(change: AccountingChange): Promise<void> {
    await this.rewriteAccounting({ account: change.account, contributions: [{ source: change.source, ...change.contribution }], fileRefs: change.fileRefs, usageDelta: change.usageDelta });
  }

  async rewriteAccounting(change: AccountingRewrite): Promise<void> {
    const key = accountKey(change.account);
    const contributions = this.contributions.get(key) ?? new Map<string, Contribution>();
    const refs = this.fileRefs.get(key) ?? new Map<string, FileReference>();
    // Check every condition first: all or nothing.
    for (const c of change.contributions) {
      if (contributions.get(sourceKey(c.source))?.version !== c.expectedVersion) throw new ConflictError('Conflict', 'the contribution changed concurrently');
    }
    for (const r of change.fileRefs) {
      if (refs.get(r.fileKey)?.version !== r.expectedVersion) throw new ConflictError('Conflict', 'a file reference changed concurrently');
    }
    if (change.account.kind === 'user') this.user(change.account.username);
    for (const c of change.contributions) {
      if (c.next) contributions.set(sourceKey(c.source), { ...clone(c.next), version: (c.expectedVersion ?? 0) + 1 });
      else contributions.delete(sourceKey(c.source));
    }
    for (const r of change.fileRefs) {
      if (r.next) refs.set(r.fileKey, { fileKey: r.fileKey, ...clone(r.next), version: (r.expectedVersion ?? 0) + 1 });
      else refs.delete(r.fileKey);
    }
    this.contributions.set(key, contributions);
    this.fileRefs.set(key, refs);
    const quota = this.quotaRef(change.account, true);
    for (const [resource, delta] of Object.entries(change.usageDelta) as [Resource, number][]) quota[resource].used += delta;
  }

  async listAccounts(): Promise<Account[]> {
    const keys = new Set<string>([...this.contributions.keys(), ...this.fileRefs.keys(), ...this.workspaceQuotas.keys()]);
    for (const u of this.identity.users.values()) keys.add(`user:${u.username}`);
    return [...keys].sort().map(accountOf);
  }

  async listContributions(account: Account) {
    return [...(this.contributions.get(accountKey(account)) ?? new Map<string, Contribution>()).entries()].map(([k, c]) => ({ source: sourceOf(k), contribution: clone(c) }));
  }

  async listFileRefs(account: Account): Promise<FileReference[]> {
    return [...(this.fileRefs.get(accountKey(account))?.values() ?? [])].map(clone);
  }
}

/** Accounting events in memory: tests deliver them (twice, shuffled...) to the consumer themselves. */
export class MemoryAccountingQueue {
  events: import('../../ports/accounts').AccountingEvent[] = [];
  async enqueue(events: import('../../ports/accounts').AccountingEvent[]): Promise<void> {
    this.events.push(...clone(events));
  }
}

/** The schema revision in memory, with the same conditional move. */
export class MemorySchemaStore {
  revision: string | undefined;
  changes: import('../../ports/accounts').SchemaChange[] = [];
  async current() {
    return this.revision;
  }
  async move(expected: string | undefined, to: string, change: import('../../ports/accounts').SchemaChange) {
    if (this.revision !== expected) throw new ConflictError('Schema moved', `the schema revision is ${this.revision ?? 'unset'}, not ${expected ?? 'unset'}`);
    this.revision = to;
    this.changes.push(clone(change));
  }
  async history() {
    return clone(this.changes);
  }
  /** No indexes here: the listing is computed from the items. */
  async moveWorkRequestListing(_direction: 'upgrade' | 'downgrade') {
    return 0;
  }
}
