/**
 * Telling Debusine's WebSockets about work (app support: the lifecycle calls this after a change
 * is committed, so it may not import the connect/greet use cases in ./sockets).
 */
import type { WorkRequest } from '../domain/work-requests';
import type { Deps, DepsWithSockets } from '../ports';

export function hasSockets(deps: Deps): deps is DepsWithSockets {
  return deps.sockets !== undefined;
}

export const socketMessage = (text: string, extra: Record<string, unknown> = {}) => ({ type: 'websocket.send', text, ...extra });

export function completionMessage(wr: WorkRequest) {
  return socketMessage('work_request_completed', { work_request_id: wr.id, completed_at: wr.completedAt, result: wr.result });
}

/** The worker-notification port's WebSocket side: Debusine's worker only hears "work is available". */
export async function notifyWorkerSockets(deps: Deps, workerName: string, type: 'work_request_available' | 'abort'): Promise<void> {
  if (!hasSockets(deps) || type !== 'work_request_available') return; // Debusine's protocol has no abort message
  for (const c of await deps.sockets.connections.forWorker(workerName)) {
    if (!(await deps.sockets.pusher.send(c.connectionId, socketMessage('work_request_available')))) await deps.sockets.connections.delete(c.connectionId);
  }
}

/** Tells the on-completed listeners that may see its workspace that a request completed. */
export async function notifyCompletionListeners(deps: Deps, wr: WorkRequest): Promise<void> {
  if (!hasSockets(deps) || wr.status !== 'completed') return;
  for (const c of await deps.sockets.connections.listeners()) {
    if (c.scope !== wr.scope || !c.workspaces?.includes(wr.workspace)) continue;
    if (!(await deps.sockets.pusher.send(c.connectionId, completionMessage(wr)))) await deps.sockets.connections.delete(c.connectionId);
  }
}

