/**
 * What the worker process and its task subprocess (task-runner.ts) tell each other:
 * a request file in, log lines on stdout/stderr, an outcome file out.
 */
import type { WireFinalResult, WireOutputError } from '../client/wire';

export interface ChildRequest {
  /** Server base URL and the worker's token: the task uploads its outputs with it. */
  server: string;
  token: string;
  scope?: string;
  work_request: { id: number; task_name: string; task_data: Record<string, unknown>; dynamic_task_data?: Record<string, unknown> | null };
  /** The task's scratch directory (removed by the worker afterwards). */
  work_dir: string;
}

export interface ChildOutcome {
  result: WireFinalResult;
  output_data?: { errors?: WireOutputError[]; [key: string]: unknown };
  /** Measured by the child just before it exits. */
  resource_usage?: { cpu_time: number; memory: number };
}

export const FINAL_RESULTS: readonly WireFinalResult[] = ['success', 'failure', 'error', 'skipped'];

/** Debusine's error codes: setup problems vs. the task failing while it ran. */
export function errorOutcome(code: 'configure-failed' | 'execute-failed' | 'setup-failed', message: string): ChildOutcome {
  return { result: 'error', output_data: { errors: [{ code, message }] } };
}

/** The JSON object (or array) `text` holds; undefined for anything else, malformed JSON included. */
export function parseJsonRecord(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads an outcome file's JSON, refusing shapes the worker could not report. */
export function parseChildOutcome(text: string): ChildOutcome | undefined {
  const o = parseJsonRecord(text);
  if (!o) return undefined;
  if (!FINAL_RESULTS.includes(o.result as WireFinalResult)) return undefined;
  const outputData = o.output_data;
  if (outputData !== undefined && (typeof outputData !== 'object' || outputData === null || Array.isArray(outputData))) return undefined;
  const usage = o.resource_usage as { cpu_time?: unknown; memory?: unknown } | undefined;
  return {
    result: o.result as WireFinalResult,
    ...(outputData ? { output_data: outputData as ChildOutcome['output_data'] } : {}),
    ...(usage && typeof usage.cpu_time === 'number' && typeof usage.memory === 'number'
      ? { resource_usage: { cpu_time: usage.cpu_time, memory: usage.memory } }
      : {}),
  };
}
