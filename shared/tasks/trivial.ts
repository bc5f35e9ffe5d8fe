/**
 * The two built-in Worker tasks that need nothing but a log and a clock (noop and sleep): how they
 * run, and which task data they take exactly as given. Free of zod and of the task registry, so that
 * a task process runs them without loading either (issue 12: a noop task process in tens of ms);
 * shared/tasks/builtin.ts declares them (schemas, requirements) with these same executors.
 */
import type { TaskContext, TaskOutcome } from './types';

export type TrivialTaskContext = Pick<TaskContext, 'log' | 'signal'>;

export async function executeNoop(data: { result: boolean }, ctx: TrivialTaskContext): Promise<TaskOutcome> {
  ctx.log(`noop: result ${data.result ? 'success' : 'failure'}`);
  return { result: data.result ? 'success' : 'failure' };
}

export async function executeSleep(data: { seconds: number; result: boolean }, ctx: TrivialTaskContext): Promise<TaskOutcome> {
  const end = Date.now() + data.seconds * 1000;
  while (Date.now() < end) {
    if (ctx.signal.aborted) throw new Error('aborted');
    ctx.log(`sleep: ${Math.ceil((end - Date.now()) / 1000)} s left`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(0, end - Date.now()))));
  }
  return { result: data.result ? 'success' : 'failure' };
}

/** The longest sleep, in seconds (a day). */
export const SLEEP_MAX_SECONDS = 86_400;

type Fields = Record<string, unknown>;

/** A JSON object whose keys are all among `allowed` (an array, null or a stray key is not). */
function onlyKeys(data: unknown, allowed: readonly string[]): data is Fields {
  if (typeof data !== 'object' || data === null || Array.isArray(data) || Object.getPrototypeOf(data) !== Object.prototype) return false;
  return Object.keys(data).every((key) => allowed.includes(key));
}

const optionalBoolean = (value: unknown): value is boolean | undefined => value === undefined || typeof value === 'boolean';
const optionalPositiveInteger = (value: unknown): boolean => value === undefined || (Number.isSafeInteger(value) && (value as number) > 0);

/**
 * The noop or sleep run for this task data, when the data is certainly valid: each accepted value is
 * one the task's schema (builtin.ts) accepts unchanged, defaults filled the same way. Anything else,
 * valid or not, answers undefined and goes through the registry and the schema, so every validation
 * error stays the schema's own.
 */
export function trivialTaskRun(taskName: string, taskData: unknown, ctx: TrivialTaskContext): (() => Promise<TaskOutcome>) | undefined {
  const data = taskData ?? {};
  if (taskName === 'noop' && onlyKeys(data, ['result', 'required_memory', 'required_disk'])) {
    if (!optionalBoolean(data['result']) || !optionalPositiveInteger(data['required_memory']) || !optionalPositiveInteger(data['required_disk'])) return undefined;
    const result = data['result'] ?? true;
    return () => executeNoop({ result }, ctx);
  }
  if (taskName === 'sleep' && onlyKeys(data, ['seconds', 'result'])) {
    const seconds = data['seconds'];
    if (typeof seconds !== 'number' || !(seconds >= 0 && seconds <= SLEEP_MAX_SECONDS) || !optionalBoolean(data['result'])) return undefined;
    const result = data['result'] ?? true;
    return () => executeSleep({ seconds, result }, ctx);
  }
  return undefined;
}
