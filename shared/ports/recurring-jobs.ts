/**
 * Port of the recurring jobs (shared/domain/recurring-jobs.ts): the job with its one run, its results
 * and its events, and the machine events. Adapters: DynamoDB (shared/adapters/dynamodb/
 * recurring-job-repository.ts) and the in-memory fake (shared/adapters/memory/recurring-jobs.ts).
 */
import type { RecurringJob, RecurringJobEvent, RecurringJobResult } from '../domain/recurring-jobs';

/** One write of a job: the new state, conditional on the version it was read at, with what it appends. */
export interface RecurringJobWrite {
  /** Carries `version = expectedVersion + 1`. */
  job: RecurringJob;
  expectedVersion: number;
  result?: RecurringJobResult | null;
  events?: RecurringJobEvent[];
}

/** A page of a listing (the same shape as ports' Page; declared here so this port stands alone). */
export interface Page<T> {
  items: T[];
  next?: string;
}

export interface RecurringJobRepository {
  /** Fails with ConflictError when the id exists. */
  create(job: RecurringJob, events: RecurringJobEvent[]): Promise<void>;
  get(id: number): Promise<RecurringJob | undefined>;
  /** The jobs of a workspace by id, with cursor pagination. */
  list(scope: string, workspace: string, limit: number, cursor?: string): Promise<Page<RecurringJob>>;
  /** All or nothing; ConflictError when the version moved (a racing caller won). */
  commit(write: RecurringJobWrite): Promise<void>;
  /** Deletes the job (its results and events stay readable until the table's TTL backstop, if any). */
  delete(job: RecurringJob): Promise<void>;
  /**
   * Runs that wait for release (pending, not released, job REVIEWED) due at or before `now`, at most
   * `limit`, most overdue first. Reads only index entries of due runs: never the jobs that are not due.
   */
  dueRuns(now: string, limit: number): Promise<RecurringJob[]>;
  /**
   * Runs released (their work request exists) and not finished, released at or before `before`, at most
   * `limit`, oldest first: the reconcile pass finds runs whose request finished without finishing them.
   * Reads only index entries of runs out, never the waiting jobs.
   */
  releasedRuns(before: string, limit: number): Promise<RecurringJob[]>;
  /** Newest first. */
  results(jobId: number, limit: number, cursor?: string): Promise<Page<RecurringJobResult>>;
  /** Oldest first. */
  events(jobId: number, limit: number, cursor?: string): Promise<Page<RecurringJobEvent>>;
  /** Machine events (ONLINE, OFFLINE, QUIESCE) of a worker. */
  appendMachineEvents(machine: string, events: RecurringJobEvent[]): Promise<void>;
  machineEvents(machine: string, limit: number, cursor?: string): Promise<Page<RecurringJobEvent>>;
}

/** The machines' event log alone, for the functions that only append to it (get-next turning a machine QUIESCED). */
export type MachineEventLog = Pick<RecurringJobRepository, 'appendMachineEvents'>;
