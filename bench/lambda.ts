/**
 * Lambda duration, measured: the artifacts-api handler (functions/artifacts-api.ts, the code Lambda
 * runs) invoked in-process with the API Gateway v2 events the local gateway builds, against the
 * local stack's emulators. Warm invocations only (no cold start); billed duration rounds each
 * invocation up to the next millisecond, as Lambda does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buildEvent, matchRoute, routesOf, toHttpResponse } from '../cli/dev/gateway';
import { lambdaContext } from '../cli/dev/handlers';
import { handler as artifactsApi } from '../functions/artifacts-api';
import { FUNCTIONS, type FunctionSpec } from '../shared/manifest';
import { mean, percentile } from './stats';

export interface RouteTiming {
  routeKey: string;
  invocations: number;
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  /** Mean of the per-invocation durations rounded up to whole milliseconds. */
  billedMeanMs: number;
}

export interface HandlerTimings {
  fn: FunctionSpec;
  routes: RouteTiming[];
  /** Billed ms of the three invocations of one artifact create (create, upload, upload-complete). */
  billedMsPerArtifact: number;
}

const LOCAL_HOST = '127.0.0.1:443';

export async function measureHandlerTimes(options: { token: string; workspace: string; iterations: number; warmup: number; fileSize: number }): Promise<HandlerTimings> {
  const fn = FUNCTIONS.find((f) => f.name === 'artifacts-api');
  if (!fn) throw new Error('no artifacts-api function in the manifest');
  const routes = routesOf(FUNCTIONS);
  const samples = new Map<string, number[]>();

  const invoke = async (method: string, url: string, body: unknown, record: boolean): Promise<{ status: number; json: unknown }> => {
    const match = matchRoute(routes, method, url.split('?')[0] ?? url);
    if (!match) throw new Error(`no route for ${method} ${url}`);
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const rawHeaders = ['Host', LOCAL_HOST, 'Token', options.token, ...(body === undefined ? [] : ['Content-Type', 'application/json'])];
    const event = buildEvent({ method, url, rawHeaders, body: payload, sourceIp: '127.0.0.1', httpVersion: '1.1', localHost: LOCAL_HOST }, match);
    const context = lambdaContext(match.route.fn, event.requestContext.requestId);
    const started = performance.now();
    const result = await artifactsApi(event, context);
    const elapsed = performance.now() - started;
    const response = toHttpResponse(result);
    if (response.statusCode >= 300) throw new Error(`${method} ${url} answered ${response.statusCode}: ${response.body.toString('utf8').slice(0, 300)}`);
    if (record) {
      const list = samples.get(match.route.routeKey) ?? [];
      list.push(elapsed);
      samples.set(match.route.routeKey, list);
    }
    return { status: response.statusCode, json: JSON.parse(response.body.toString('utf8') || 'null') };
  };

  for (let i = 0; i < options.warmup + options.iterations; i++) {
    const record = i >= options.warmup;
    const bytes = randomBytes(options.fileSize);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const created = (await invoke(
      'POST',
      '/api/1.0/artifact/',
      { category: 'bench:lambda', workspace: options.workspace, files: { 'file.bin': { size: bytes.length, checksums: { sha256 } } } },
      record,
    )) as { json: { id: number } };
    const id = created.json.id;
    const plan = (await invoke('POST', `/api/1.0/artifact/${id}/upload/file.bin/`, {}, record)).json as {
      method: string;
      url: string;
      headers: Record<string, string>;
    };
    if (plan.method !== 'single') throw new Error('expected a single-PUT plan');
    const put = await fetch(plan.url, { method: 'PUT', headers: plan.headers, body: bytes });
    await put.arrayBuffer();
    if (!put.ok) throw new Error(`presigned PUT answered ${put.status}`);
    const done = await invoke('POST', `/api/1.0/artifact/${id}/upload-complete/file.bin/`, {}, record);
    if (done.status !== 201) throw new Error(`upload-complete answered ${done.status}`);
    await invoke('GET', `/api/1.0/artifact/${id}/`, undefined, record);
  }

  const timings: RouteTiming[] = [...samples.entries()].map(([routeKey, list]) => ({
    routeKey,
    invocations: list.length,
    p50Ms: percentile(list, 50),
    p95Ms: percentile(list, 95),
    meanMs: mean(list),
    billedMeanMs: mean(list.map((ms) => Math.ceil(ms))),
  }));
  const billed = (key: string): number => timings.find((t) => t.routeKey === key)?.billedMeanMs ?? Number.NaN;
  return {
    fn,
    routes: timings,
    billedMsPerArtifact:
      billed('POST /api/1.0/artifact/') +
      billed('POST /api/1.0/artifact/{id}/upload/{path+}') +
      billed('POST /api/1.0/artifact/{id}/upload-complete/{path+}'),
  };
}
