/**
 * Debusine's WebSocket channel (debusine/server/consumers.py): `/api/ws/1.0/worker/connect/` for
 * Debusine's own workers and `/api/ws/1.0/work-request/on-completed/` for clients waiting for
 * completions. Like Debusine, a connection is accepted first and refused afterwards with a
 * message (`connection_rejected`, `reason_code: TOKEN_DISABLED` for workers), so that Debusine's
 * worker waits and retries until an admin enables its token.
 *
 * The socket itself lives in API Gateway (or the local gateway): `$connect` stores the connection
 * and queues a greeting, because nothing can be sent before `$connect` has answered.
 */
import { DomainError, NotFoundError } from '../domain/errors';
import { isFinished, type WorkRequest } from '../domain/work-requests';
import type { Deps, DepsWithSockets, SocketConnection } from '../ports';
import { authenticate, type Caller } from './auth';
import { listVisibleWorkspaces } from './identity';
import { scheduleForWorker } from './scheduler';
import { DEFAULT_SCOPE } from '../domain/tenancy';
import { completionMessage, hasSockets, socketMessage as message } from './socket-notifications';

export { hasSockets };

export const WORKER_CONNECT_PATH = '/api/ws/1.0/worker/connect/';
export const ON_COMPLETED_PATH = '/api/ws/1.0/work-request/on-completed/';
/** Debusine's text for a worker whose token is unknown, disabled or not a worker's. */
export const WORKER_TOKEN_REFUSED = 'No token header, token not associated to a worker or not enabled';
export const USER_TOKEN_REFUSED = 'No token header, token not associated to a user or not enabled';
/** Completions replayed from `completed_at_since`, per workspace at most (newest pages are read first). */
const REPLAY_LIMIT = 1000;


export interface OpenSocketInput {
  connectionId: string;
  /** The path the client asked for (`/api/ws/1.0/…/`, trailing slash optional). */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
}

/**
 * `$connect`: false for a path that is not a WebSocket endpoint (refused at the handshake, 404).
 * Anything else is accepted and stored, with the rejection to send when the token is not good.
 */
export async function openSocket(deps: DepsWithSockets, input: OpenSocketInput): Promise<boolean> {
  const path = input.path.endsWith('/') ? input.path : `${input.path}/`;
  if (path !== WORKER_CONNECT_PATH && path !== ON_COMPLETED_PATH) return false;
  const caller = await authenticate(deps, input.headers['token']).catch((err: unknown) => {
    if (err instanceof DomainError) return undefined;
    throw err;
  });
  const base = { connectionId: input.connectionId, scope: input.headers['x-debusine-scope']?.trim() || DEFAULT_SCOPE, connectedAt: deps.clock.now().toISOString() };
  let connection: SocketConnection;
  if (path === WORKER_CONNECT_PATH) {
    connection =
      caller?.kind === 'worker' && caller.worker.enabled
        ? { ...base, kind: 'worker', worker: caller.worker.name }
        : { ...base, kind: 'worker', rejection: { reason: WORKER_TOKEN_REFUSED, reasonCode: 'TOKEN_DISABLED' } };
  } else {
    connection = caller?.kind === 'user' ? await listenerFor(deps, caller, base, input.query) : { ...base, kind: 'on-completed', rejection: { reason: USER_TOKEN_REFUSED } };
  }
  await deps.sockets.connections.put(connection);
  return true;
}

async function listenerFor(
  deps: Deps,
  caller: Extract<Caller, { kind: 'user' }>,
  base: Pick<SocketConnection, 'connectionId' | 'scope' | 'connectedAt'>,
  query: Record<string, string>,
): Promise<SocketConnection> {
  const visible = (await listVisibleWorkspaces(deps, caller, base.scope)).map((v) => v.workspace.name);
  // Debusine's client sends `workspaces` (comma-separated); `workspace` is accepted too.
  const asked = (query['workspaces'] ?? query['workspace'])?.split(',').filter((w) => w !== '');
  const since = query['completed_at_since'];
  const sinceProblem = since !== undefined && Number.isNaN(Date.parse(since)) ? `completed_at_since "${since}" is not a datetime` : undefined;
  const missing = asked?.find((w) => !visible.includes(w));
  if (missing !== undefined || sinceProblem) {
    return { ...base, kind: 'on-completed', rejection: { reason: sinceProblem ?? `Workspace "${missing}" not found` } };
  }
  return { ...base, kind: 'on-completed', workspaces: asked ?? visible, ...(since ? { replaySince: since } : {}) };
}

/** The greeting, once the socket is open: the rejection, or `connected` and what follows it. */
export async function greetSocket(deps: DepsWithSockets, connectionId: string): Promise<void> {
  const connection = await deps.sockets.connections.get(connectionId);
  if (!connection) return; // closed meanwhile
  const { pusher } = deps.sockets;
  if (connection.rejection) {
    await pusher.send(connectionId, {
      type: 'connection_rejected',
      reason: connection.rejection.reason,
      ...(connection.rejection.reasonCode ? { reason_code: connection.rejection.reasonCode } : {}),
    });
    await pusher.close(connectionId);
    await deps.sockets.connections.delete(connectionId);
    return;
  }
  if (!(await pusher.send(connectionId, message('connected')))) {
    await deps.sockets.connections.delete(connectionId);
    return;
  }
  if (connection.kind === 'worker') await greetWorker(deps, connection);
  else await replayCompletions(deps, connection);
}

/**
 * Debusine asks for dynamic metadata, then says `work_request_available` when the worker is busy.
 * Conveyor also schedules for it at once, so a worker that connects while work waits gets it now.
 */
async function greetWorker(deps: DepsWithSockets, connection: SocketConnection): Promise<void> {
  const name = connection.worker!;
  await deps.sockets.pusher.send(connection.connectionId, message('request_dynamic_metadata'));
  const worker = await deps.workers.get(name);
  if (!worker?.enabled) return;
  const now = deps.clock.now().toISOString();
  await deps.workers.update({ ...worker, connectedAt: worker.connectedAt ?? now, lastSeenAt: now, version: worker.version + 1 }, worker.version).catch(() => undefined);
  const active = await deps.workRequests.activeForWorker(name);
  if (active.some((wr) => !isFinished(wr))) {
    await deps.sockets.pusher.send(connection.connectionId, message('work_request_available'));
    return;
  }
  const fresh = await deps.workers.get(name);
  // scheduleForWorker tells the worker itself (notifyWorker) for each assignment.
  if (fresh) await scheduleForWorker(deps, fresh);
}

/** Completions since `completed_at_since` (Debusine skips the single one at exactly that time: already seen). */
async function replayCompletions(deps: Deps, connection: SocketConnection): Promise<void> {
  const since = connection.replaySince;
  if (!since || !hasSockets(deps)) return;
  const sinceMs = Date.parse(since);
  const found: WorkRequest[] = [];
  for (const workspace of connection.workspaces ?? []) {
    let cursor: string | undefined;
    let read = 0;
    do {
      const page = await deps.workRequests.list({ scope: connection.scope, workspace, status: 'completed', limit: 100, ...(cursor ? { cursor } : {}) });
      found.push(...page.items.filter((wr) => wr.completedAt !== null && Date.parse(wr.completedAt) >= sinceMs));
      read += page.items.length;
      cursor = page.next;
    } while (cursor && read < REPLAY_LIMIT);
  }
  const atSince = found.filter((wr) => Date.parse(wr.completedAt!) === sinceMs);
  const toSend = found.filter((wr) => atSince.length !== 1 || Date.parse(wr.completedAt!) !== sinceMs).sort((a, b) => a.completedAt!.localeCompare(b.completedAt!));
  for (const wr of toSend) await deps.sockets.pusher.send(connection.connectionId, completionMessage(wr));
}

/** `$disconnect`: forget the socket; a worker with no socket left is no longer connected. */
export async function closeSocket(deps: DepsWithSockets, connectionId: string): Promise<void> {
  const connection = await deps.sockets.connections.delete(connectionId);
  if (connection?.kind !== 'worker' || !connection.worker || connection.rejection) return;
  if ((await deps.sockets.connections.forWorker(connection.worker)).length > 0) return;
  const worker = await deps.workers.get(connection.worker);
  if (worker?.connectedAt) await deps.workers.update({ ...worker, connectedAt: null, version: worker.version + 1 }, worker.version).catch(() => undefined);
}

/**
 * The watchdog's sweep: a Debusine worker sends no heartbeats; its open socket is its liveness.
 * Each open worker socket keeps its worker seen and its running requests' heartbeats fresh; a
 * socket that is gone (a lost `$disconnect`) is forgotten, after which the usual reclaim rules apply.
 */
export async function refreshSocketWorkers(deps: Deps): Promise<string[]> {
  if (!hasSockets(deps)) return [];
  const alive: string[] = [];
  const now = deps.clock.now();
  for (const c of await deps.sockets.connections.workers()) {
    if (!(await deps.sockets.pusher.isOpen(c.connectionId))) {
      await closeSocket(deps, c.connectionId);
      continue;
    }
    alive.push(c.worker!);
    const worker = await deps.workers.get(c.worker!);
    if (worker && worker.connectedAt === null) {
      // A pass marked it disconnected while nothing refreshed it (e.g. no refresh for 15 minutes): its socket is
      // open, so it is connected again, and this versioned update puts it back in the free-slot index.
      await deps.workers.update({ ...worker, connectedAt: now.toISOString(), lastSeenAt: now.toISOString(), version: worker.version + 1 }, worker.version).catch(() => undefined);
    } else {
      await deps.workers.touch(c.worker!, now, 0);
    }
    for (const wr of await deps.workRequests.activeForWorker(c.worker!)) {
      if (wr.status === 'running') await deps.workRequests.applyHeartbeat({ workRequestId: wr.id, worker: c.worker!, at: now.toISOString(), logtail: wr.logtail });
    }
  }
  return alive;
}

export function socketNotFound(path: string): NotFoundError {
  return new NotFoundError('Not Found', `no WebSocket endpoint at ${path}`);
}
