/**
 * A workflow's child progress: how many children were created, finished, and finished without
 * success. The counts move in the same commits as the children (creation, finish), so that a
 * workflow step can tell "some child is still in progress and none failed" from one read instead
 * of reading every child.
 */
import { isFinished, succeeded, type WorkRequest } from './work-requests';

export interface ChildProgressDelta {
  created: number;
  finished: number;
  unsuccessful: number;
}

/** Per workflow id, what a commit adds to its child progress (workflows it does not touch are absent). */
export function childProgressDeltas(
  created: readonly Pick<WorkRequest, 'parent'>[],
  updated: readonly { workRequest: Pick<WorkRequest, 'parent' | 'status' | 'result'>; finishes?: boolean }[],
): Map<number, ChildProgressDelta> {
  const deltas = new Map<number, ChildProgressDelta>();
  const of = (parent: number) => {
    let d = deltas.get(parent);
    if (!d) deltas.set(parent, (d = { created: 0, finished: 0, unsuccessful: 0 }));
    return d;
  };
  for (const wr of created) if (wr.parent !== null) of(wr.parent).created += 1;
  for (const { workRequest: wr, finishes } of updated) {
    if (!finishes || wr.parent === null) continue;
    if (!isFinished(wr)) throw new Error(`an update marked as finishing leaves work request status ${wr.status}`);
    const d = of(wr.parent);
    d.finished += 1;
    if (!(wr.status === 'completed' && succeeded(wr))) d.unsuccessful += 1;
  }
  return deltas;
}

/**
 * Whether the counts alone show that the workflow cannot be judged yet: a child is still pending,
 * running or blocked, and no child failed (a failure may leave a sibling stranded or a delayed retry
 * due, which only a look at every child finds).
 */
export function childrenStillInProgress(progress: ChildProgressDelta | undefined): boolean {
  return progress !== undefined && progress.unsuccessful === 0 && progress.created > progress.finished;
}
