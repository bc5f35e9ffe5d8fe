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

export function visibilityTimeoutSeconds(manifest: ConveyorManifest, queueName: string): number {
  const timeouts = consumersOf(manifest, queueName).map((f) => f.timeoutSeconds);
  const seconds = timeouts.length === 0 ? DEFAULT_VISIBILITY_TIMEOUT_SECONDS : VISIBILITY_TIMEOUT_FACTOR * Math.max(...timeouts);
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
  for (const q of Object.values(manifest.queues)) {
    if (q.maxReceiveCount < MIN_MAX_RECEIVE_COUNT) {
      throw new Error(`queue ${q.name}: maxReceiveCount ${q.maxReceiveCount} is below ${MIN_MAX_RECEIVE_COUNT}`);
    }
  }
}
