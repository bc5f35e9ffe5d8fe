/**
 * The view of shared/manifest.ts that the CDK stacks are built from, with the few derived
 * values (queue consumers, visibility timeouts, parsed route keys) computed in one place.
 * Stacks take a ConveyorManifest as a prop (default: the real one) so that tests can also
 * build the cloud from variants (a FIFO queue, a read-only user, a scheduled function).
 */
import { FUNCTIONS, QUEUES, TABLES } from '../shared/manifest';
import type { FunctionSpec, QueueSpec, TableSpec } from '../shared/manifest';

export interface ConveyorManifest {
  tables: Record<string, TableSpec>;
  queues: Record<string, QueueSpec>;
  functions: FunctionSpec[];
}

export const CONVEYOR_MANIFEST: ConveyorManifest = { tables: TABLES, queues: QUEUES, functions: FUNCTIONS };

/** DESIGN.md: every queue has a DLQ with maxReceiveCount of at least 5. */
export const MIN_MAX_RECEIVE_COUNT = 5;
/** DESIGN.md: queue visibility timeout ≥ 6 × the timeout of the function consuming it. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;
/** Visibility timeout of a queue nobody consumes (SQS's own default). */
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30;
const MAX_VISIBILITY_TIMEOUT_SECONDS = 12 * 60 * 60;

/** "file-verification" → "FileVerification": construct ids and output names. */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

export function consumersOf(manifest: ConveyorManifest, queueName: string): FunctionSpec[] {
  return manifest.functions.filter((f) => f.queue?.name === queueName);
}

/**
 * 6 × the consumer's timeout, plus its batching window (AWS's advice for batch windows: a message
 * may wait that long in a filling batch before the function even starts).
 */
export function visibilityTimeoutSeconds(manifest: ConveyorManifest, queueName: string): number {
  const consumers = consumersOf(manifest, queueName);
  const seconds =
    consumers.length === 0
      ? DEFAULT_VISIBILITY_TIMEOUT_SECONDS
      : Math.max(...consumers.map((f) => VISIBILITY_TIMEOUT_FACTOR * f.timeoutSeconds + (f.queue?.maxBatchingWindowSeconds ?? 0)));
  if (seconds > MAX_VISIBILITY_TIMEOUT_SECONDS) {
    throw new Error(
      `queue ${queueName}: visibility timeout ${seconds}s (${VISIBILITY_TIMEOUT_FACTOR} × consumer timeout) exceeds SQS's 12 hours`,
    );
  }
  return seconds;
}

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY'] as const;
export type RouteMethod = (typeof HTTP_METHODS)[number];

/**
 * Parses a manifest route key "METHOD /path/{param}/{greedy+}" into what API Gateway accepts.
 *
 * API Gateway HTTP APIs reject route paths that end with "/" (Debusine's paths all do); a
 * request for "/x/" is matched by the route "/x" and reaches the function with `rawPath` "/x/"
 * but `routeKey` "METHOD /x". So the deployed path is the manifest path without its trailing
 * slash, and handlers must not dispatch on `event.routeKey` verbatim (see awsRouteKey).
 */
export function parseRouteKey(routeKey: string): { method: RouteMethod; path: string } {
  const match = /^([A-Z]+) (\/\S*)$/.exec(routeKey);
  const method = match?.[1];
  const rawPath = match?.[2];
  if (!method || !rawPath || !(HTTP_METHODS as readonly string[]).includes(method)) {
    throw new Error(`invalid route key ${JSON.stringify(routeKey)}: expected "METHOD /path"`);
  }
  const path = rawPath.length > 1 ? rawPath.replace(/\/+$/, '') : rawPath;
  if (path === '') throw new Error(`invalid route key ${JSON.stringify(routeKey)}`);
  return { method: method as RouteMethod, path };
}

/** The route key API Gateway deploys (and puts in `event.routeKey`) for a manifest route key. */
export function awsRouteKey(routeKey: string): string {
  const { method, path } = parseRouteKey(routeKey);
  return `${method} ${path}`;
}

/** Throws if a function uses a table or queue the manifest does not declare. */
export function validateManifest(manifest: ConveyorManifest): void {
  const names = new Set<string>();
  for (const f of manifest.functions) {
    if (names.has(f.name)) throw new Error(`function ${f.name} is declared twice`);
    names.add(f.name);
    for (const t of Object.keys(f.uses.tables)) {
      if (!manifest.tables[t]) throw new Error(`function ${f.name} uses unknown table ${t}`);
    }
    for (const q of [...(f.uses.sendsTo ?? []), ...(f.queue ? [f.queue.name] : [])]) {
      if (!manifest.queues[q]) throw new Error(`function ${f.name} uses unknown queue ${q}`);
    }
  }
  const routes = new Map<string, string>();
  for (const f of manifest.functions) {
    for (const r of f.routes ?? []) {
      const key = awsRouteKey(r);
      const other = routes.get(key);
      if (other) throw new Error(`route ${r} (${f.name}) collides with ${other} as API Gateway route ${key}`);
      routes.set(key, `${r} (${f.name})`);
    }
  }
  for (const f of manifest.functions) {
    if (f.queue) checkQueueTrigger(f, manifest.queues[f.queue.name]!.fifo);
  }
  for (const q of Object.values(manifest.queues)) {
    if (q.maxReceiveCount < MIN_MAX_RECEIVE_COUNT) {
      throw new Error(`queue ${q.name}: maxReceiveCount ${q.maxReceiveCount} is below ${MIN_MAX_RECEIVE_COUNT}`);
    }
  }
}

/**
 * Lambda's limits on an SQS event source, checked up front with the function's name: batches above
 * 10 need a batching window (standard queues only, up to 10,000), windows are at most 300 s, and a
 * maximum concurrency is 2 to 1,000.
 */
function checkQueueTrigger(f: FunctionSpec, fifo: boolean): void {
  const { batchSize, maxBatchingWindowSeconds: window, maxConcurrency } = f.queue!;
  const maxBatch = fifo ? 10 : 10_000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > maxBatch) {
    throw new Error(`function ${f.name}: batchSize ${batchSize} must be from 1 to ${maxBatch}`);
  }
  if (!Number.isInteger(window) || window < 0 || window > 300) {
    throw new Error(`function ${f.name}: maxBatchingWindowSeconds ${window} must be from 0 to 300`);
  }
  if (batchSize > 10 && window < 1) {
    throw new Error(`function ${f.name}: batchSize ${batchSize} above 10 needs a batching window (maxBatchingWindowSeconds ≥ 1)`);
  }
  if (maxConcurrency !== undefined && (!Number.isInteger(maxConcurrency) || maxConcurrency < 2 || maxConcurrency > 1000)) {
    throw new Error(`function ${f.name}: maxConcurrency ${maxConcurrency} must be from 2 to 1000`);
  }
}
