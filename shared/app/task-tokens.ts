/**
 * Short-lived tokens for task processes (security finding 4). The worker's own token never reaches
 * a task: before starting one, the worker asks for a token that acts for that one work request
 * (see TaskScope in auth.ts) and hands the task only that. It expires after TASK_TOKEN_TTL_MS and,
 * before that, as soon as the request stops running on the worker (authenticate checks it).
 */
import { ConflictError } from '../domain/errors';
import type { Token } from '../domain/tenancy';
import type { Deps } from '../ports';
import { generateTokenKey } from './admin';
import { hashTokenKey, requireWorker, type Caller } from './auth';
import { workRequestNotFound } from './loaders';

/** Long enough for a long build; the token is refused earlier once the request is finished. */
export const TASK_TOKEN_TTL_MS = 12 * 60 * 60 * 1000;

export async function issueTaskToken(deps: Deps, caller: Caller, workRequestId: number): Promise<{ key: string; expireAt: string }> {
  requireWorker(caller);
  const wr = await deps.workRequests.get(workRequestId);
  if (!wr || wr.worker !== caller.worker.name) throw workRequestNotFound(workRequestId);
  if (wr.status !== 'running') throw new ConflictError('Not running', `work request ${workRequestId} is ${wr.status}`);
  const key = generateTokenKey();
  const now = deps.clock.now();
  const expireAt = new Date(now.getTime() + TASK_TOKEN_TTL_MS).toISOString();
  const token: Token = {
    id: deps.ids.random().slice(0, 12),
    hash: hashTokenKey(key),
    workerName: caller.worker.name,
    workRequestId,
    purpose: 'task',
    status: 'active',
    enabled: true,
    comment: `task token of work request ${workRequestId}`,
    createdAt: now.toISOString(),
    expireAt,
    version: 1,
  };
  await deps.identity.createToken(token);
  return { key, expireAt };
}
