/** REANA's run statuses and the transitions between them (reference/launchpad_reana.md §B.2). */

export const RUN_STATUSES = ['created', 'queued', 'pending', 'running', 'finished', 'failed', 'stopped', 'deleted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

const RUN_TRANSITIONS: Record<RunStatus, readonly RunStatus[]> = {
  created: ['deleted', 'queued'],
  queued: ['deleted', 'pending', 'failed'],
  pending: ['running', 'deleted'],
  running: ['failed', 'finished', 'stopped', 'running'],
  stopped: ['deleted'],
  failed: ['deleted', 'running'],
  finished: ['deleted', 'running'],
  deleted: [],
};

/** REANA's `can_transition_to`. */
export function canRunTransition(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}
