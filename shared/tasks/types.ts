/**
 * The task plug-in interface: one definition per task name, used by the server (validation,
 * requirements, scheduling) and by whoever runs it (the worker for Worker tasks, a Lambda for
 * Server tasks).
 */
import type { z } from 'zod';
import type { FinalResult, OutputData, TaskType } from '../domain/work-requests';
import type { Metadata } from '../domain/workers';

/** What a task may ask of the machine it runs on, beyond its type and architecture. */
export interface TaskRequirements {
  /** Bytes of RAM (`system:total_physical_memory`). */
  memory?: number;
  /** Bytes of free disk (`system:free_disk`). */
  disk?: number;
  /** Executor backend that must be available (`executor:<backend>:available`). */
  executor?: string;
  /** Extra metadata keys that must be true, e.g. `lintian:available`. */
  flags?: string[];
}

/** A file the task wants uploaded as part of an output artifact. */
export interface OutputFile {
  /** Path inside the artifact. */
  path: string;
  /** Where the bytes are on the machine running the task. */
  localPath: string;
}

export interface OutputArtifact {
  category: string;
  data: Record<string, unknown>;
  files: OutputFile[];
}

/** What a running task can use: its scratch directory, its log, and the artifact store. */
export interface TaskContext {
  /** What the server resolved when it assigned the request (lookups → artifact ids). */
  dynamicData: Record<string, unknown>;
  workDir: string;
  log(line: string): void;
  signal: AbortSignal;
  /** Downloads an artifact's files into `dir` (verified); returns the artifact's category, data and local file paths. */
  downloadArtifact(id: number, dir: string): Promise<{ category: string; data: Record<string, unknown>; files: { path: string; localPath: string }[] }>;
  /**
   * Uploads an output artifact; it gets `built-using` relations to the task's input artifacts.
   * Returns its id.
   */
  uploadArtifact(artifact: OutputArtifact): Promise<number>;
  /** Runs a program; output lines go to the log. */
  run(command: string, args: string[], opts?: { cwd?: string; env?: Record<string, string> }): Promise<{ exitCode: number; stdout: string }>;
}

export interface TaskOutcome {
  result: FinalResult;
  outputData?: OutputData;
}

export interface TaskDefinition<D = Record<string, unknown>> {
  name: string;
  taskType: TaskType;
  /** Compared with the worker's `<name>:version` metadata when it reports one. */
  version: number;
  /** Strict: unknown keys are refused. Its output is the validated task data with defaults. */
  schema: z.ZodType<D>;
  /** The architecture the task must run on, if any (Debusine's `host_architecture`). */
  hostArchitecture?(data: D): string | undefined;
  requirements?(data: D): TaskRequirements;
  /**
   * Resolves the task's lookups when the request is assigned (Debusine's dynamic task data);
   * `resolve` turns a lookup into artifact ids.
   */
  computeDynamicData?(data: D, resolve: (lookup: unknown) => Promise<number[]>): Promise<Record<string, unknown>>;
  /** Artifact ids the task reads (from its data or dynamic data): outputs get `built-using` relations to them. */
  inputArtifacts?(data: D, dynamicData: Record<string, unknown>): number[];
  execute?(data: D, ctx: TaskContext): Promise<TaskOutcome>;
  /**
   * False for a Worker task that never calls the server (no artifact downloaded or uploaded): the
   * worker starts it without asking for a task token, one API request less per task (issue 12).
   */
  usesServer?: boolean;
}

/** Which worker type runs which task type (Debusine's base `can_run_on`). */
export const WORKER_TYPE_FOR_TASK_TYPE: Partial<Record<TaskType, string>> = {
  Worker: 'external',
  Server: 'celery',
  Signing: 'signing',
};

export type { Metadata };

/**
 * The common head of a Worker task that shells out to a tool (lintian, dpkg-deb, git): only workers
 * whose probe of that tool answered (cli/worker/metadata.ts TASK_PROBES) report `<name>:available`.
 */
export function toolTask<D>(name: string, schema: z.ZodType<D>): Pick<TaskDefinition<D>, 'name' | 'taskType' | 'version' | 'schema' | 'requirements'> {
  return { name, taskType: 'Worker', version: 1, schema, requirements: () => ({ flags: [`${name}:available`] }) };
}
