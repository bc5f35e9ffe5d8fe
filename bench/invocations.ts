/**
 * Counts and times the Lambda invocations the local stack makes, by function (and by route for the
 * API functions). The local stack loads each handler with `require(<entry>)` the first time it needs
 * it (cli/dev/handlers.ts); installing a wrapper in Node's module cache before that first use makes
 * the gateway, the queue pollers and the schedule timers call the wrapper. Nothing in the stack is
 * changed: the wrapper calls the real handler and records how long it took.
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FUNCTIONS, type FunctionSpec } from '../shared/manifest';

type AnyHandler = (event: unknown, context: unknown) => Promise<unknown>;

export interface FunctionCalls {
  /** Invocations by trigger: the route key for API events, `sqs` for queue batches, `schedule` for timer ticks. */
  byTrigger: Record<string, { invocations: number; ms: number[]; records: number }>;
}

export class InvocationRecorder {
  private calls: Record<string, FunctionCalls> = {};
  private readonly finishedCount: Record<string, number> = {};
  private readonly startedCount: Record<string, number> = {};
  private readonly waiters: { fn: string; after: number; resolve: () => void }[] = [];
  readonly installed: string[] = [];

  /** Wraps the handlers of the named functions (all of them by default that are not loaded yet). */
  install(repoRoot: string, names: string[]): void {
    for (const name of names) {
      const fn = FUNCTIONS.find((f) => f.name === name);
      if (!fn) throw new Error(`no function ${name} in the manifest`);
      this.wrap(repoRoot, fn);
    }
  }

  private wrap(repoRoot: string, fn: FunctionSpec): void {
    const file = require.resolve(resolve(repoRoot, fn.entry));
    const mod = require(file) as { handler?: unknown };
    const original = mod.handler;
    if (typeof original !== 'function') throw new Error(`${fn.entry} exports no handler`);
    const wrapped: AnyHandler = async (event, context) => {
      const trigger = triggerOf(event);
      const startedKey = `${fn.name}:${trigger.key}`;
      this.startedCount[startedKey] = (this.startedCount[startedKey] ?? 0) + 1;
      const started = performance.now();
      try {
        return await (original as AnyHandler)(event, context);
      } finally {
        this.record(fn.name, trigger.key, trigger.records, performance.now() - started);
      }
    };
    const cached = require.cache[file];
    if (!cached) throw new Error(`${fn.entry} is not in the module cache`);
    cached.exports = { ...(cached.exports as object), handler: wrapped };
    if ((require(file) as { handler?: unknown }).handler !== wrapped) throw new Error(`could not wrap the handler of ${fn.entry}`);
    this.installed.push(fn.name);
  }

  private record(fn: string, key: string, records: number, ms: number): void {
    const calls = (this.calls[fn] ??= { byTrigger: {} });
    const entry = (calls.byTrigger[key] ??= { invocations: 0, ms: [], records: 0 });
    entry.invocations += 1;
    entry.ms.push(ms);
    entry.records += records;
    this.finishedCount[fn] = (this.finishedCount[fn] ?? 0) + 1;
    const byTrigger = `${fn}:${key}`;
    this.finishedCount[byTrigger] = (this.finishedCount[byTrigger] ?? 0) + 1;
    for (const waiter of [...this.waiters]) {
      const count = this.finishedCount[waiter.fn] ?? 0;
      if ((waiter.fn === fn || waiter.fn === byTrigger) && count > waiter.after) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  /** Invocations of `fn` (a function name, or `<name>:<trigger>` such as `scheduler:sqs`) finished so far. */
  finished(fn: string): number {
    return this.finishedCount[fn] ?? 0;
  }

  /** Invocations of `<name>:<trigger>` started so far (e.g. `scheduler:schedule`: timer ticks). */
  started(key: string): number {
    return this.startedCount[key] ?? 0;
  }

  /** Resolves true once `fn` has finished more than `after` invocations, false after `timeoutMs`. */
  waitForFinished(fn: string, after: number, timeoutMs: number): Promise<boolean> {
    if (this.finished(fn) > after) return Promise.resolve(true);
    return new Promise((resolveWait) => {
      const waiter = { fn, after, resolve: () => (clearTimeout(timer), resolveWait(true)) };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolveWait(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Starts a new measurement window. */
  reset(): void {
    this.calls = {};
  }

  /** What was recorded since the last `reset`. */
  take(): Record<string, FunctionCalls> {
    return JSON.parse(JSON.stringify(this.calls)) as Record<string, FunctionCalls>;
  }
}

function triggerOf(event: unknown): { key: string; records: number } {
  const e = (event ?? {}) as { routeKey?: unknown; Records?: unknown };
  if (typeof e.routeKey === 'string') return { key: e.routeKey, records: 0 };
  if (Array.isArray(e.Records)) return { key: 'sqs', records: e.Records.length };
  return { key: 'schedule', records: 0 };
}

/** Invocations of `fn` in `calls`, optionally only for some triggers. */
export function invocationsOf(calls: Record<string, FunctionCalls>, fn: string, trigger?: (key: string) => boolean): number {
  return Object.entries(calls[fn]?.byTrigger ?? {})
    .filter(([key]) => !trigger || trigger(key))
    .reduce((n, [, v]) => n + v.invocations, 0);
}

/** All durations of `fn` (optionally only some triggers). */
export function durationsOf(calls: Record<string, FunctionCalls>, fn: string, trigger?: (key: string) => boolean): number[] {
  return Object.entries(calls[fn]?.byTrigger ?? {})
    .filter(([key]) => !trigger || trigger(key))
    .flatMap(([, v]) => v.ms);
}

export function recordsOf(calls: Record<string, FunctionCalls>, fn: string, trigger: string): number {
  return calls[fn]?.byTrigger[trigger]?.records ?? 0;
}
