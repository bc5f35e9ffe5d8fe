/** In-memory WorkspaceExpiryStore over the memory repositories, with the DynamoDB adapter's index and conditions. */
import type { RecurringJob } from '../../domain/recurring-jobs';
import type { Workspace } from '../../domain/tenancy';
import { accountKey } from './accounts';
import type { WorkspaceExpiryEntry, WorkspaceExpiryStore, WorkspaceScan } from '../../ports/workspace-expiry';
import type { MemoryDeps } from './index';

/** Scans kept on the entries, per memory world (a store may be made again over the same repositories). */
const scansByWorld = new WeakMap<object, Map<string, WorkspaceScan>>();

export class MemoryWorkspaceExpiryStore implements WorkspaceExpiryStore {
  constructor(private readonly deps: MemoryDeps) {}

  private get scans(): Map<string, WorkspaceScan> {
    let scans = scansByWorld.get(this.deps.identity);
    if (!scans) scansByWorld.set(this.deps.identity, (scans = new Map()));
    return scans;
  }

  private get checks() {
    return this.deps.identity.workspaceExpiryChecks;
  }

  /** As the DynamoDB entry: present while the workspace has a delay. */
  private entryOf(ws: Workspace): WorkspaceExpiryEntry | undefined {
    if (!ws.expirationDelay || ws.expirationDelay <= 0) return undefined;
    const key = `${ws.scope}/${ws.name}`;
    const moved = this.checks.get(key);
    if (moved === null) return undefined;
    const checkAt = moved ?? new Date(Date.parse(ws.createdAt) + ws.expirationDelay * 1000).toISOString();
    const scan = this.scans.get(key);
    return { scope: ws.scope, workspace: ws.name, checkAt, ...(scan ? { scan: structuredClone(scan) } : {}) };
  }

  async dueWorkspaces(upTo: string, limit: number): Promise<WorkspaceExpiryEntry[]> {
    return [...this.deps.identity.workspaces.values()]
      .map((ws) => this.entryOf(ws))
      .filter((e): e is WorkspaceExpiryEntry => e !== undefined && e.checkAt <= upTo)
      .sort((a, b) => (a.checkAt < b.checkAt ? -1 : a.checkAt > b.checkAt ? 1 : 0))
      .slice(0, limit);
  }

  async recheckWorkspace(scope: string, workspace: string, at: string | null): Promise<void> {
    const key = `${scope}/${workspace}`;
    if (this.deps.identity.workspaces.has(key)) this.checks.set(key, at);
    this.scans.delete(key);
  }

  async saveScan(scope: string, workspace: string, scan: WorkspaceScan): Promise<void> {
    const ws = this.deps.identity.workspaces.get(`${scope}/${workspace}`);
    if (ws && this.entryOf(ws)) this.scans.set(`${scope}/${workspace}`, structuredClone(scan));
  }

  async deleteWorkspace(ws: Workspace): Promise<boolean> {
    const key = `${ws.scope}/${ws.name}`;
    if (this.deps.identity.workspaces.get(key)?.version !== ws.version) return false;
    this.deps.identity.workspaces.delete(key);
    this.checks.delete(key);
    this.scans.delete(key);
    return true;
  }

  async deleteTemplateRuns(scope: string, workspace: string, name: string): Promise<void> {
    this.deps.templates.runs.delete(`${scope}/${workspace}/${name}`);
  }

  async deleteRecurringJob(job: RecurringJob): Promise<boolean> {
    const jobs = this.deps.recurringJobs;
    if (jobs.jobs.get(job.id)?.version !== job.version) return false;
    jobs.jobs.delete(job.id);
    jobs.resultsByJob.delete(job.id);
    jobs.eventsByJob.delete(job.id);
    return true;
  }

  async deleteUsageRecords(scope: string, workspace: string): Promise<void> {
    const key = accountKey({ kind: 'workspace', scope, workspace });
    const accounts = this.deps.accounts;
    accounts.workspaceQuotas.delete(key);
    accounts.contributions.delete(key);
    accounts.fileRefs.delete(key);
  }
}
