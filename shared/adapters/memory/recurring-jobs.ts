/** In-memory RecurringJobRepository for unit tests: the same conditions as the DynamoDB adapter. */
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import { isReleasedRun, waitsForRelease, type RecurringJob, type RecurringJobEvent, type RecurringJobResult } from '../../domain/recurring-jobs';
import type { Page } from '../../ports';
import type { RecurringJobRepository, RecurringJobWrite } from '../../ports/recurring-jobs';
import { clone } from './paging';

function page<T>(all: T[], limit: number, cursor?: string): Page<T> {
  if (cursor !== undefined && !/^\d+$/.test(cursor)) throw ValidationError.field('cursor', 'is not a cursor this server issued', 'Invalid query');
  const start = cursor ? Number(cursor) : 0;
  return { items: all.slice(start, start + limit).map(clone), next: start + limit < all.length ? String(start + limit) : undefined };
}

export class MemoryRecurringJobRepository implements RecurringJobRepository {
  jobs = new Map<number, RecurringJob>();
  resultsByJob = new Map<number, RecurringJobResult[]>();
  eventsByJob = new Map<number, RecurringJobEvent[]>();
  eventsByMachine = new Map<string, RecurringJobEvent[]>();
  /** What the due index returned: the tick's reads must follow the due runs, not the jobs. */
  reads = { dueRunsReturned: 0 };

  async create(job: RecurringJob, events: RecurringJobEvent[]): Promise<void> {
    if (this.jobs.has(job.id)) throw new ConflictError('Conflict', `recurring job ${job.id} exists`);
    this.jobs.set(job.id, clone(job));
    this.eventsByJob.set(job.id, clone(events));
  }

  async get(id: number) {
    return clone(this.jobs.get(id));
  }

  async list(scope: string, workspace: string, limit: number, cursor?: string) {
    const all = [...this.jobs.values()].filter((j) => j.scope === scope && j.workspace === workspace).sort((a, b) => a.id - b.id);
    return page(all, limit, cursor);
  }

  async commit(write: RecurringJobWrite): Promise<void> {
    const current = this.jobs.get(write.job.id);
    if (!current) throw new NotFoundError('Recurring job not found', `recurring job ${write.job.id} not found`);
    if (current.version !== write.expectedVersion) {
      throw new ConflictError('Conflict', `recurring job ${write.job.id}: expected version ${write.expectedVersion}, found ${current.version}`);
    }
    const results = this.resultsByJob.get(write.job.id) ?? [];
    if (write.result && results.some((r) => r.sequence === write.result!.sequence)) throw new ConflictError('Conflict', `result ${write.result.sequence} exists`);
    this.jobs.set(write.job.id, clone(write.job));
    if (write.result) this.resultsByJob.set(write.job.id, [...results, clone(write.result)]);
    this.eventsByJob.set(write.job.id, [...(this.eventsByJob.get(write.job.id) ?? []), ...clone(write.events ?? [])]);
  }

  async delete(job: RecurringJob): Promise<void> {
    const current = this.jobs.get(job.id);
    if (!current || current.version !== job.version) throw new ConflictError('Conflict', `recurring job ${job.id} changed`);
    this.jobs.delete(job.id);
  }

  async dueRuns(now: string, limit: number): Promise<RecurringJob[]> {
    const due = [...this.jobs.values()]
      .filter((j) => waitsForRelease(j) && j.run!.dateDue <= now)
      .sort((a, b) => a.run!.dateDue.localeCompare(b.run!.dateDue) || a.id - b.id)
      .slice(0, limit);
    this.reads.dueRunsReturned += due.length;
    return due.map(clone);
  }

  async releasedRuns(before: string, limit: number): Promise<RecurringJob[]> {
    return [...this.jobs.values()]
      .filter((j) => isReleasedRun(j) && j.run!.releasedAt! <= before)
      .sort((a, b) => a.run!.releasedAt!.localeCompare(b.run!.releasedAt!) || a.id - b.id)
      .slice(0, limit)
      .map(clone);
  }

  async results(jobId: number, limit: number, cursor?: string) {
    return page([...(this.resultsByJob.get(jobId) ?? [])].reverse(), limit, cursor);
  }

  async events(jobId: number, limit: number, cursor?: string) {
    return page(this.eventsByJob.get(jobId) ?? [], limit, cursor);
  }

  async appendMachineEvents(machine: string, events: RecurringJobEvent[]): Promise<void> {
    this.eventsByMachine.set(machine, [...(this.eventsByMachine.get(machine) ?? []), ...clone(events)]);
  }

  async machineEvents(machine: string, limit: number, cursor?: string) {
    return page(this.eventsByMachine.get(machine) ?? [], limit, cursor);
  }
}
