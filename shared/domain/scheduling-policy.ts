/**
 * REANA's workflow scheduling policies (launchpad_reana.md §B.7): `fifo` (priority 0) or
 * `balanced`, where a workflow's priority is overload × complexity. The float quirks are
 * reproduced on purpose (behaviours 27, 28): Python's round() on the exact binary value with
 * ties to even, and int() truncation after a float multiply.
 */
import { ValidationError } from './errors';

export const SCHEDULING_POLICIES = ['fifo', 'balanced'] as const;
export type SchedulingPolicy = (typeof SCHEDULING_POLICIES)[number];
export const SCHEDULING_POLICY_ENV_VAR = 'CONVEYOR_WORKFLOW_SCHEDULING_POLICY';
/** REANA_MAX_CONCURRENT_BATCH_WORKFLOWS. */
export const MAX_CONCURRENT_WORKFLOWS_ENV_VAR = 'CONVEYOR_MAX_CONCURRENT_WORKFLOWS';
export const DEFAULT_MAX_CONCURRENT_WORKFLOWS = 30;

export function readSchedulingPolicy(env: Record<string, string | undefined>): { policy: SchedulingPolicy; maxConcurrent: number } {
  const policy = (env[SCHEDULING_POLICY_ENV_VAR] || 'fifo').trim();
  if (!(SCHEDULING_POLICIES as readonly string[]).includes(policy)) {
    throw new Error(`${SCHEDULING_POLICY_ENV_VAR} must be one of ${SCHEDULING_POLICIES.join(', ')}, not ${JSON.stringify(policy)}`);
  }
  const rawMax = env[MAX_CONCURRENT_WORKFLOWS_ENV_VAR];
  const maxConcurrent = rawMax ? Number(rawMax) : DEFAULT_MAX_CONCURRENT_WORKFLOWS;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new Error(`${MAX_CONCURRENT_WORKFLOWS_ENV_VAR} must be a positive whole number`);
  return { policy: policy as SchedulingPolicy, maxConcurrent };
}

/** Python's round(x, digits) for small digit counts: decided on the exact binary value, ties to even. */
export function pythonRound(x: number, digits = 0): number {
  // toFixed works on the exact value of the double: 30 more digits show whether it is a true tie.
  const expanded = Math.abs(x).toFixed(digits + 30);
  const cut = expanded.length - 30;
  const rest = expanded.slice(cut);
  if (rest !== '5'.padEnd(30, '0')) return Number(x.toFixed(digits));
  const kept = expanded.slice(0, cut);
  const lastDigit = Number(kept.replace('.', '').slice(-1));
  const down = Number(kept);
  const step = 10 ** -digits;
  const magnitude = lastDigit % 2 === 0 ? down : Number((down + step).toFixed(digits));
  return x < 0 ? -magnitude : magnitude;
}

/** REANA's `User.get_workflow_overload_priority`: fewer active workflows, higher priority. */
export function overloadPriority(activeWorkflows: number, maxConcurrent = DEFAULT_MAX_CONCURRENT_WORKFLOWS): number {
  if (activeWorkflows >= maxConcurrent) return 0.1;
  return pythonRound(1 - (activeWorkflows * 0.9) / maxConcurrent, 2);
}

/** `[n_jobs, memory_bytes]` pairs, REANA's workflow complexity. */
export type Complexity = [number, number][];

/** REANA's `Workflow.get_complexity_priority`: the lighter the workflow, the higher. */
export function complexityPriority(complexity: Complexity, totalMemory: number): number {
  if (complexity.length === 0) return 0;
  const workflowMemory = Math.trunc(complexity.reduce((sum, [jobs, mem]) => sum + jobs * mem, 0));
  if (!totalMemory || workflowMemory > totalMemory) return 0;
  return Math.trunc(pythonRound(1 - workflowMemory / totalMemory, 2) * 100);
}

/** REANA's `get_priority`: round(overload × complexity), ties to even. */
export function balancedPriority(activeWorkflows: number, complexity: Complexity, totalMemory: number, maxConcurrent = DEFAULT_MAX_CONCURRENT_WORKFLOWS): number {
  return pythonRound(overloadPriority(activeWorkflows, maxConcurrent) * complexityPriority(complexity, totalMemory));
}

export function complexityProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'must be a list of [jobs, memory_bytes] pairs';
  for (const pair of value) {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)) {
      return 'must be a list of [jobs, memory_bytes] pairs of non-negative numbers';
    }
  }
  return undefined;
}

export function parseComplexity(value: unknown, field = 'complexity'): Complexity {
  const problem = complexityProblem(value);
  if (problem) throw ValidationError.field(field, problem);
  return value as Complexity;
}
