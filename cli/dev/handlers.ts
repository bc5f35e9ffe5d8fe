/**
 * What the gateway, the pollers and the timers share: loading a function's handler the way Lambda
 * does (once, lazily, after the environment is set) and the Lambda `Context` it receives.
 */
import { randomUUID } from 'node:crypto';
import { extname, resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import type { FunctionSpec } from '../../shared/manifest';

/** Any Lambda handler: the event type depends on the trigger, so callers narrow the result. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export type LoadHandler = (fn: FunctionSpec) => Promise<LambdaHandler>;

export type LogLevel = 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, message: string, error?: unknown) => void;

/** Compiled (dist/cli.js, see build/compile.ts): the handlers are the bundles beside it, dist/functions/*.js. */
const COMPILED = extname(__filename) === '.js';
export const REPO_ROOT = COMPILED ? resolve(__dirname, '..') : resolve(__dirname, '../..');

function handlerModulePath(repoRoot: string, entry: string): string {
  return COMPILED && repoRoot === REPO_ROOT ? resolve(__dirname, entry.replace(/\.ts$/, '.js')) : resolve(repoRoot, entry);
}
export const LOCAL_ACCOUNT_ID = '123456789012';

export const consoleLog: Log = (level, message, error) => {
  const line = `[conveyor dev] ${message}`;
  if (level === 'info') process.stdout.write(`${line}\n`);
  else process.stderr.write(`${line}${error === undefined ? '' : `\n${formatError(error)}`}\n`);
};

export function formatError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * Loads `fn.entry` (a .ts file: the CLI runs under tsx, tests under jest's transform) with
 * `require`, like Lambda's CommonJS runtime, and caches it. Lambda reads its environment once at
 * cold start, so the caller must have set `process.env` before the first call. A module that fails
 * to load is not cached: fix the file and the next request tries again.
 */
export function createHandlerLoader(repoRoot: string = REPO_ROOT): LoadHandler {
  const cache = new Map<string, LambdaHandler>();
  return async (fn) => {
    const cached = cache.get(fn.name);
    if (cached) return cached;
    const mod = require(handlerModulePath(repoRoot, fn.entry)) as { handler?: unknown };
    if (typeof mod.handler !== 'function') throw new Error(`${fn.entry} does not export a handler function`);
    const handler = mod.handler as LambdaHandler;
    cache.set(fn.name, handler);
    return handler;
  };
}

/** The Lambda context of one invocation; `getRemainingTimeInMillis` counts down the function's timeout. */
export function lambdaContext(fn: FunctionSpec, requestId: string = randomUUID()): Context {
  const deadline = Date.now() + fn.timeoutSeconds * 1000;
  const functionName = `conveyor-${fn.name}`;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: String(fn.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
