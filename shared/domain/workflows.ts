/**
 * Workflows: templates, REANA's run statuses with their transition table, run numbers and
 * names (SPEC §4, reference/launchpad_reana.md §B.2, §B.5), and the Debusine completion rule.
 */
import { ConflictError, ValidationError } from './errors';
import type { WorkRequest } from './work-requests';
import { canRunTransition, type RunStatus } from './run-status';

export interface WorkflowTemplate {
  id: number;
  scope: string;
  workspace: string;
  /** Unique per workspace; also the REANA run name of the workflows it starts. */
  name: string;
  /** The orchestrator (a registered workflow). */
  taskName: string;
  /** Fixed parameters: they win over the caller's when a workflow starts. */
  taskData: Record<string, unknown>;
  priority: number;
  createdAt: string;
  version: number;
}

export interface RunNumber {
  major: number;
  minor: number;
}

/** "1" for (1, 0), "1.2" for (1, 2). */
export function formatRunNumber(n: RunNumber): string {
  return n.minor === 0 ? String(n.major) : `${n.major}.${n.minor}`;
}

/** "1.2" → (1, 2), "3" → (3, 0); anything else → undefined. */
export function parseRunNumber(text: string): RunNumber | undefined {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2] ?? 0) };
}

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** REANA's name rules; an empty name becomes "workflow". */
export function normaliseWorkflowName(name: string, field = 'name'): string {
  if (name === '') return 'workflow';
  if (name.includes('.')) throw ValidationError.field(field, 'must not contain "."');
  if (UUID4.test(name)) throw ValidationError.field(field, 'must not be a valid UUIDv4');
  if (!/^[\x20-\x7e]+$/.test(name)) throw ValidationError.field(field, 'must be printable ASCII');
  if (name.length > 255) throw ValidationError.field(field, 'must be at most 255 characters');
  if (name.includes('#') || name.includes('/')) throw ValidationError.field(field, 'must not contain "#" or "/"');
  return name;
}

/**
 * REANA's lookup: split at the first dot; no dot (or nothing after it) → the latest run, a valid
 * run number → that run, anything else → the whole string is a name.
 */
export function parseRunLookup(text: string): { name: string; run?: RunNumber } {
  const dot = text.indexOf('.');
  if (dot < 0 || dot === text.length - 1) return { name: dot < 0 ? text : text.slice(0, -1) };
  const run = parseRunNumber(text.slice(dot + 1));
  return run ? { name: text.slice(0, dot), run } : { name: text };
}

/** The REANA run status that matches a workflow's work-request state. */
export function runStatusFor(wr: Pick<WorkRequest, 'status' | 'result'>): RunStatus {
  switch (wr.status) {
    case 'blocked':
    case 'pending':
      return 'queued';
    case 'running':
      return 'running';
    case 'aborted':
      return 'stopped';
    case 'completed':
      return wr.result === 'success' || wr.result === 'skipped' ? 'finished' : 'failed';
  }
}

/**
 * Debusine's `maybe_finish_workflow` over the non-superseded children: undefined while any is
 * unfinished; aborted if one was aborted; failure if one failed without allow_failure; else success.
 */
export function workflowOutcome(children: Pick<WorkRequest, 'status' | 'result' | 'supersededBy' | 'workflowData'>[]): { status: 'completed' | 'aborted'; result?: 'success' | 'failure' } | undefined {
  const current = children.filter((c) => c.supersededBy === null);
  if (current.some((c) => c.status !== 'completed' && c.status !== 'aborted')) return undefined;
  if (current.some((c) => c.status === 'aborted')) return { status: 'aborted' };
  const failed = current.some((c) => c.result !== 'success' && c.result !== 'skipped' && c.workflowData.allow_failure !== true);
  return { status: 'completed', result: failed ? 'failure' : 'success' };
}

/**
 * The run status a finishing workflow moves to: finished or failed. A run a user aborted is
 * stopped (REANA's meaning: stopped by someone); one aborted because a child failed is failed,
 * which, unlike stopped, may restart.
 */
export function finishedRunStatus(current: RunStatus, status: 'completed' | 'aborted', result: string, stoppedByUser = false): RunStatus {
  const wanted: RunStatus[] =
    status === 'aborted' && stoppedByUser
      ? ['stopped', 'failed', 'deleted']
      : status === 'aborted' || (result !== 'success' && result !== 'skipped')
        ? ['failed', 'deleted']
        : ['finished'];
  const next = wanted.find((s) => s === current || canRunTransition(current, s));
  if (!next) throw new Error(`a ${current} run cannot finish as ${status}/${result}`);
  return next;
}

/** The REANA status a run moves to next, or a ConflictError when REANA's table forbids it. */
export function moveRun(wr: Pick<WorkRequest, 'id' | 'run'>, to: RunStatus): WorkRequest['run'] {
  if (!wr.run || wr.run.status === to) return wr.run;
  if (!canRunTransition(wr.run.status, to)) {
    throw new ConflictError('Illegal run transition', `workflow ${wr.id} is ${wr.run.status} and cannot become ${to}`);
  }
  return { ...wr.run, status: to };
}
