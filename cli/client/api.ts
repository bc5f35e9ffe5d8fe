/**
 * A thin client of the REST API (docs/api.md): one place that adds the `Token` and
 * `X-Debusine-Scope` headers, turns problem+json answers into readable errors and
 * keeps redirects under the caller's control.
 */
import type { ClientConfig } from './config';
import type {
  ArtifactPage,
  CompletedPart,
  CreateArtifactRequest,
  CreateWorkRequestRequest,
  Problem,
  RegisterWorkerRequest,
  RegisteredWorker,
  UnblockRequest,
  UploadPlan,
  WhoAmI,
  WireArtifact,
  WireQueueAccess,
  WireRelation,
  WireWorker,
  WireWorkRequest,
  WorkRequestCompletion,
  WorkRequestPage,
} from './wire';
import type { RelationType } from '../../shared/domain/artifacts';

export type FetchFn = typeof fetch;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problem?: Problem,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** `<status> <title>: <detail>`, then one line per field error. */
export function formatProblem(status: number, statusText: string, problem: Problem | undefined, rawBody: string): string {
  if (!problem) {
    const excerpt = rawBody.trim().slice(0, 300);
    return `${status} ${statusText || 'Error'}${excerpt ? `: ${excerpt}` : ''}`;
  }
  let message = `${status} ${problem.title || statusText || 'Error'}`;
  if (problem.detail) message += `: ${problem.detail}`;
  for (const [field, reasons] of Object.entries(problem.validation_errors ?? {})) {
    message += `\n  ${field}: ${Array.isArray(reasons) ? reasons.join('; ') : String(reasons)}`;
  }
  return message;
}

export async function apiErrorFromResponse(res: Response): Promise<ApiError> {
  const rawBody = await res.text().catch(() => '');
  let problem: Problem | undefined;
  const contentType = res.headers.get('content-type') ?? '';
  if (contentType.includes('json')) {
    try {
      const parsed: unknown = JSON.parse(rawBody);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) problem = parsed as Problem;
    } catch {
      // Not JSON after all: the raw body is shown instead.
    }
  }
  return new ApiError(res.status, formatProblem(res.status, res.statusText, problem, rawBody), problem);
}

/** Encodes each segment of an artifact file path, keeping the `/` between them. */
export function encodeArtifactPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The request never got an answer (refused connection, DNS, reset): worth retrying, unlike an HTTP error. */
export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkError';
  }
}

/** Wraps fetch's opaque "fetch failed" in a message that names the URL and the cause. */
export async function fetchOrExplain(fetchImpl: FetchFn, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetchImpl(url, init);
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
    const message = err instanceof Error ? err.message : String(err);
    throw new NetworkError(`Cannot reach ${new URL(url).origin}: ${cause ?? message}`);
  }
}

export interface JsonResponse<T> {
  status: number;
  body: T;
}

export class ConveyorApi {
  readonly apiBase: string;

  constructor(
    readonly config: Pick<ClientConfig, 'server' | 'token' | 'scope'>,
    readonly fetchImpl: FetchFn = fetch,
  ) {
    this.apiBase = `${config.server.replace(/\/+$/, '').replace(/\/api\/1\.0$/, '')}/api/1.0/`;
  }

  /** Absolute URL of an API path given relative to `/api/1.0/`. */
  endpoint(relative: string): string {
    return new URL(relative.replace(/^\/+/, ''), this.apiBase).toString();
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { Accept: 'application/json', ...extra };
    if (this.config.token) headers.Token = this.config.token;
    if (this.config.scope) headers['X-Debusine-Scope'] = this.config.scope;
    return headers;
  }

  /** Sends a request; answers outside 2xx (and outside `alsoAccept`) become an ApiError. */
  async request(method: string, relative: string, body?: unknown, alsoAccept: number[] = []): Promise<Response> {
    // Never followed automatically: fetch would carry the Token header to wherever a redirect points.
    const init: RequestInit = { method, headers: this.headers(), redirect: 'manual' };
    if (body !== undefined) {
      init.headers = this.headers({ 'Content-Type': 'application/json' });
      init.body = JSON.stringify(body);
    }
    const res = await fetchOrExplain(this.fetchImpl, this.endpoint(relative), init);
    if ((res.status >= 200 && res.status < 300) || alsoAccept.includes(res.status)) return res;
    throw await apiErrorFromResponse(res);
  }

  async json<T>(method: string, relative: string, body?: unknown, alsoAccept: number[] = []): Promise<JsonResponse<T>> {
    const res = await this.request(method, relative, body, alsoAccept);
    const text = await res.text();
    if (!text) return { status: res.status, body: undefined as T };
    try {
      return { status: res.status, body: JSON.parse(text) as T };
    } catch {
      throw new Error(`${res.status}: the server answered ${method} ${relative} with something that is not JSON: ${text.slice(0, 200)}`);
    }
  }

  /**
   * Where a download endpoint points: its 302 Location, resolved against the request URL.
   * Redirects are never followed with our headers, so the token never reaches the file store.
   */
  async redirectTarget(relative: string): Promise<string> {
    const url = this.endpoint(relative);
    const res = await this.request('GET', relative, undefined, [301, 302, 303, 307, 308]);
    const location = res.headers.get('location');
    await res.body?.cancel();
    if (res.status >= 300 && location) return new URL(location, url).toString();
    throw new Error(`Expected a redirect from ${url}, got ${res.status}${location ? '' : ' without a Location header'}`);
  }

  whoami(): Promise<WhoAmI> {
    return this.json<WhoAmI>('GET', 'whoami/').then((r) => r.body);
  }

  getArtifact(id: number): Promise<WireArtifact> {
    return this.json<WireArtifact>('GET', `artifact/${id}/`).then((r) => r.body);
  }

  createArtifact(request: CreateArtifactRequest): Promise<WireArtifact> {
    return this.json<WireArtifact>('POST', 'artifact/', request).then((r) => r.body);
  }

  listArtifacts(query: { workspace?: string; category?: string; createdBy?: string; limit?: number; cursor?: string }): Promise<ArtifactPage> {
    return this.listPage<ArtifactPage>('artifact/', { workspace: query.workspace, category: query.category, created_by: query.createdBy, limit: query.limit, cursor: query.cursor });
  }

  /** One page of the list at `path`: the parameters that are set (not empty, not 0), in order, as its query. */
  private listPage<T>(path: string, query: Record<string, string | number | undefined>): Promise<T> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value) params.set(name, String(value));
    const qs = params.toString();
    return this.json<T>('GET', `${path}${qs ? `?${qs}` : ''}`).then((r) => r.body);
  }


  patchArtifact(id: number, patch: { data?: Record<string, unknown>; immutable?: true }): Promise<WireArtifact> {
    return this.json<WireArtifact>('PATCH', `artifact/${id}/`, patch).then((r) => r.body);
  }

  async deleteArtifact(id: number): Promise<void> {
    await this.json('DELETE', `artifact/${id}/`);
  }

  async removeFile(id: number, path: string): Promise<void> {
    await this.json('DELETE', `artifact/${id}/files/${encodeArtifactPath(path)}/`);
  }

  startUpload(id: number, path: string): Promise<UploadPlan> {
    return this.json<UploadPlan>('POST', `artifact/${id}/upload/${encodeArtifactPath(path)}/`, {}).then((r) => r.body);
  }

  /** 201 verified, 202 verifying in the background, 409 mismatch (returned, not thrown: the caller retries). */
  async completeUpload(id: number, path: string, parts?: CompletedPart[]): Promise<{ status: 201 | 202 | 409; detail?: string }> {
    const res = await this.request('POST', `artifact/${id}/upload-complete/${encodeArtifactPath(path)}/`, parts ? { parts } : {}, [409]);
    if (res.status === 409) return { status: 409, detail: (await apiErrorFromResponse(res)).message };
    await res.body?.cancel();
    return { status: res.status === 202 ? 202 : 201 };
  }

  fileDownloadUrl(id: number, path: string): Promise<string> {
    return this.redirectTarget(`artifact/${id}/files/${encodeArtifactPath(path)}/`);
  }

  tarballDownloadUrl(id: number): Promise<string> {
    return this.redirectTarget(`artifact/${id}/download/?archive=tar.gz`);
  }

  listRelations(by: { artifact: number } | { target: number }): Promise<WireRelation[]> {
    const qs = 'artifact' in by ? `artifact=${by.artifact}` : `target_artifact=${by.target}`;
    return this.json<WireRelation[]>('GET', `artifact-relation/?${qs}`).then((r) => r.body);
  }

  async createRelation(artifact: number, target: number, type: RelationType): Promise<{ relation: WireRelation; created: boolean }> {
    const res = await this.json<WireRelation>('POST', 'artifact-relation/', { artifact, target, type });
    return { relation: res.body, created: res.status === 201 };
  }

  async deleteRelation(id: number): Promise<void> {
    await this.json('DELETE', `artifact-relation/${id}/`);
  }

  // ---- Work requests (user side) ----

  createWorkRequest(request: CreateWorkRequestRequest): Promise<WireWorkRequest> {
    return this.json<WireWorkRequest>('POST', 'work-request/', request).then((r) => r.body);
  }

  listWorkRequests(query: { workspace?: string; status?: string; taskName?: string; limit?: number; cursor?: string }): Promise<WorkRequestPage> {
    return this.listPage<WorkRequestPage>('work-request/', { workspace: query.workspace, status: query.status, task_name: query.taskName, limit: query.limit, cursor: query.cursor });
  }


  getWorkRequest(id: number): Promise<WireWorkRequest> {
    return this.json<WireWorkRequest>('GET', `work-request/${id}/`).then((r) => r.body);
  }

  setWorkRequestPriority(id: number, priorityAdjustment: number): Promise<WireWorkRequest> {
    return this.json<WireWorkRequest>('PATCH', `work-request/${id}/`, { priority_adjustment: priorityAdjustment }).then((r) => r.body);
  }

  retryWorkRequest(id: number): Promise<WireWorkRequest> {
    return this.json<WireWorkRequest>('POST', `work-request/${id}/retry/`, {}).then((r) => r.body);
  }

  abortWorkRequest(id: number): Promise<WireWorkRequest> {
    return this.json<WireWorkRequest>('POST', `work-request/${id}/abort/`, {}).then((r) => r.body);
  }

  unblockWorkRequest(id: number, request: UnblockRequest): Promise<WireWorkRequest> {
    return this.json<WireWorkRequest>('POST', `work-request/${id}/unblock/`, request).then((r) => r.body);
  }

  listWorkers(): Promise<{ results: WireWorker[] }> {
    return this.json<{ results: WireWorker[] }>('GET', 'worker/').then((r) => r.body);
  }

  // ---- Worker protocol (needs a worker token, except register) ----

  registerWorker(request: RegisterWorkerRequest): Promise<RegisteredWorker> {
    return this.json<RegisteredWorker>('POST', 'worker/register/', request).then((r) => r.body);
  }

  async putDynamicMetadata(metadata: Record<string, unknown>): Promise<void> {
    const res = await this.request('PUT', 'worker/dynamic-metadata/', metadata);
    await res.body?.cancel();
  }

  async disconnectWorker(): Promise<void> {
    const res = await this.request('POST', 'worker/disconnect/', {});
    await res.body?.cancel();
  }

  workerQueue(): Promise<WireQueueAccess> {
    return this.json<WireQueueAccess>('GET', 'worker/queue/').then((r) => r.body);
  }

  /** The next request assigned to this worker (now running), or undefined on 204. */
  async getNextWorkRequest(running: number[] = []): Promise<WireWorkRequest | undefined> {
    const qs = running.length ? `?running=${running.join(',')}` : '';
    const res = await this.json<WireWorkRequest | undefined>('GET', `work-request/get-next-for-worker/${qs}`);
    return res.status === 204 || !res.body ? undefined : res.body;
  }

  /** A short-lived token acting for this one running request only: what the task process gets. */
  async taskToken(id: number): Promise<{ token: string; expire_at: string }> {
    return this.json<{ token: string; expire_at: string }>('POST', `work-request/${id}/task-token/`, {}).then((r) => r.body);
  }

  async heartbeat(id: number, logtail: string[]): Promise<void> {
    const res = await this.request('POST', `work-request/${id}/heartbeat/`, { logtail });
    await res.body?.cancel();
  }

  async completeWorkRequest(id: number, completion: WorkRequestCompletion): Promise<void> {
    // `pulls_next=true`: no scheduling pass for the freed slot (this worker asks for its own work, or is
    // stopping); without it the server nudges the scheduler, as for Debusine's worker.
    const res = await this.request('PUT', `work-request/${id}/completed/?pulls_next=true`, completion);
    await res.body?.cancel();
  }

  /**
   * Reports the completion and pulls the next request in the same round trip (`?next=1`): `next` is
   * that request, already running, or undefined when there is none. `askGetNext` is true when the
   * server could not pull (or does not know `?next=1`, answering an empty body): ask get-next then.
   */
  async completeAndPullNext(id: number, completion: WorkRequestCompletion): Promise<{ next?: WireWorkRequest; askGetNext: boolean }> {
    const res = await this.json<{ next?: WireWorkRequest | null; ask_get_next?: boolean } | undefined>('PUT', `work-request/${id}/completed/?next=1`, completion);
    const answer = res.body;
    if (!answer || typeof answer !== 'object' || !('next' in answer) || answer.ask_get_next === true) return { askGetNext: true };
    return { ...(answer.next ? { next: answer.next } : {}), askGetNext: false };
  }
}
