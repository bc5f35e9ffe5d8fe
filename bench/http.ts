/**
 * Uploads through the real HTTP API of the local stack, the way Conveyor's own clients do:
 * POST artifact/ → POST upload/<path>/ → PUT the bytes to the presigned S3 URL(s) →
 * POST upload-complete/<path>/ (→ poll GET artifact/<id>/ while a multipart upload is verified).
 */
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MiB, mean, percentile } from './stats';

export const FILE_PATH = 'blob.bin';
const PART_CONCURRENCY = 4;
const VERIFY_POLL_MS = 50;
const VERIFY_TIMEOUT_MS = 120_000;

export interface ApiTarget {
  /** Base URL (the counting proxy in front of the API). */
  url: string;
  token: string;
  workspace: string;
}

export interface Payload {
  bytes: Buffer;
  sha256: string;
}

export function randomPayload(size: number): Payload {
  const bytes = randomBytes(size);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

interface ArtifactJson {
  id: number;
  complete: boolean;
  files_to_upload: string[];
  files: Record<string, { complete: boolean; size: number }>;
}

type UploadPlanJson =
  | { complete: true }
  | { complete: false; verifying: true }
  | { complete: false; method: 'single'; url: string; headers: Record<string, string> }
  | {
      complete: false;
      method: 'multipart';
      upload_id: string;
      part_size: number;
      parts: { part_number: number; size: number; url: string; uploaded: boolean; etag: string | null }[];
    };

async function call<T>(target: ApiTarget, method: string, path: string, body: unknown, expected: number[]): Promise<{ status: number; json: T }> {
  const res = await fetch(`${target.url}/api/1.0/${path}`, {
    method,
    headers: { Token: target.token, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!expected.includes(res.status)) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
  return { status: res.status, json: (text === '' ? null : JSON.parse(text)) as T };
}

async function putToStore(url: string, headers: Record<string, string>, body: Buffer): Promise<string> {
  const res = await fetch(url, { method: 'PUT', headers, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`PUT to the file store answered ${res.status}: ${text.slice(0, 300)}`);
  return res.headers.get('etag') ?? '';
}

export interface UploadResult {
  ms: number;
  /** Whether the server asked for the bytes (false: deduplicated). */
  uploaded: boolean;
  /** File bytes sent to S3 (request bodies). */
  s3Bytes: number;
  s3Puts: number;
  method: 'none' | 'single' | 'multipart';
  /** Time from upload-complete's 202 to the file being complete (multipart only). */
  verifyMs?: number;
  /** Wall time of each step: create, upload plan, PUT(s) to S3, upload-complete (+ verification wait). */
  steps: { create: number; plan: number; put: number; complete: number };
}

/** One artifact with one file, from create to complete; the timer covers exactly that sequence. */
export async function uploadArtifact(target: ApiTarget, payload: Payload): Promise<UploadResult> {
  const started = performance.now();
  const size = payload.bytes.length;
  const created = await call<ArtifactJson>(
    target,
    'POST',
    'artifact/',
    {
      category: 'bench:upload',
      workspace: target.workspace,
      files: { [FILE_PATH]: { type: 'file', size, checksums: { sha256: payload.sha256 } } },
    },
    [201],
  );
  const id = created.json.id;
  const tCreated = performance.now();
  const steps = { create: tCreated - started, plan: 0, put: 0, complete: 0 };
  if (!created.json.files_to_upload.includes(FILE_PATH)) {
    return { ms: performance.now() - started, uploaded: false, s3Bytes: 0, s3Puts: 0, method: 'none', steps };
  }
  const plan = (await call<UploadPlanJson>(target, 'POST', `artifact/${id}/upload/${FILE_PATH}/`, {}, [200])).json;
  const tPlanned = performance.now();
  steps.plan = tPlanned - tCreated;
  if (plan.complete) return { ms: performance.now() - started, uploaded: false, s3Bytes: 0, s3Puts: 0, method: 'none', steps };
  if ('verifying' in plan) throw new Error(`artifact ${id}: a fresh upload is already being verified`);

  let s3Bytes = 0;
  let s3Puts = 0;
  let completeBody: { parts?: { part_number: number; etag: string }[] } = {};
  if (plan.method === 'single') {
    await putToStore(plan.url, plan.headers, payload.bytes);
    s3Bytes += size;
    s3Puts += 1;
  } else {
    const etags = new Map<number, string>();
    const pending = plan.parts.filter((p) => !p.uploaded);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < pending.length) {
        const part = pending[next++]!;
        const start = (part.part_number - 1) * plan.part_size;
        const chunk = payload.bytes.subarray(start, start + part.size);
        etags.set(part.part_number, await putToStore(part.url, { 'content-length': String(part.size) }, chunk));
        s3Bytes += part.size;
        s3Puts += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, pending.length) }, worker));
    completeBody = {
      parts: plan.parts.map((p) => ({ part_number: p.part_number, etag: etags.get(p.part_number) ?? p.etag ?? '' })),
    };
  }
  const tPut = performance.now();
  steps.put = tPut - tPlanned;
  const completed = await call<{ complete: boolean }>(target, 'POST', `artifact/${id}/upload-complete/${FILE_PATH}/`, completeBody, [201, 202]);
  let verifyMs: number | undefined;
  if (completed.status === 202) {
    const verifyStarted = performance.now();
    for (;;) {
      const artifact = (await call<ArtifactJson>(target, 'GET', `artifact/${id}/`, undefined, [200])).json;
      if (artifact.files[FILE_PATH]?.complete) break;
      if (performance.now() - verifyStarted > VERIFY_TIMEOUT_MS) throw new Error(`artifact ${id}: not verified within ${VERIFY_TIMEOUT_MS} ms`);
      await new Promise((resolveWait) => setTimeout(resolveWait, VERIFY_POLL_MS));
    }
    verifyMs = performance.now() - verifyStarted;
  }
  const finished = performance.now();
  steps.complete = finished - tPut;
  return { ms: finished - started, uploaded: true, s3Bytes, s3Puts, method: plan.method, steps, ...(verifyMs !== undefined ? { verifyMs } : {}) };
}

export interface PhaseResult {
  name: string;
  size: number;
  iterations: number;
  concurrency: number;
  /** Artifacts completed per second: iterations / wall time of the timed sequences. */
  artifactsPerSecond: number;
  /** File bytes (declared sizes) per second over the same time. */
  mibPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  wallMs: number;
  methods: string[];
  uploadedCount: number;
  s3Bytes: number;
  s3Puts: number;
  meanVerifyMs?: number;
  /** Median wall time of each step of the sequence. */
  stepsP50: { create: number; plan: number; put: number; complete: number };
  /** Filled in by the caller from the counting proxy. */
  apiBytesIn?: number;
  apiBytesOut?: number;
}

export interface PhaseOptions {
  name: string;
  size: number;
  iterations: number;
  concurrency?: number;
  /** Payload for iteration i; default: fresh random bytes, generated outside the timer. */
  payloadFor?: (i: number) => Payload;
  /** Called with every payload once uploaded (e.g. to keep the hashes for the dedup run). */
  onUploaded?: (payload: Payload) => void;
  /** Fail unless every iteration did (true) or did not (false) upload bytes. */
  expectUpload: boolean;
  progress?: (message: string) => void;
}

/**
 * Runs `iterations` create→complete sequences. Sequential phases generate each payload just before its
 * sequence (outside the timer), so big payloads are not all held in memory; concurrent phases generate
 * them all first.
 */
export async function runPhase(target: ApiTarget, options: PhaseOptions): Promise<PhaseResult> {
  const concurrency = options.concurrency ?? 1;
  const payloadFor = options.payloadFor ?? (() => randomPayload(options.size));
  const results: UploadResult[] = [];
  let wallMs = 0;
  const check = (result: UploadResult): void => {
    if (result.uploaded !== options.expectUpload) {
      throw new Error(`${options.name}: expected ${options.expectUpload ? 'an upload' : 'no upload (deduplicated)'}, got the opposite`);
    }
  };
  if (concurrency === 1) {
    for (let i = 0; i < options.iterations; i++) {
      const payload = payloadFor(i);
      const result = await uploadArtifact(target, payload);
      check(result);
      results.push(result);
      options.onUploaded?.(payload);
      wallMs += result.ms;
      if (options.progress && options.iterations >= 10 && (i + 1) % Math.ceil(options.iterations / 4) === 0) {
        options.progress(`${options.name}: ${i + 1}/${options.iterations}`);
      }
    }
  } else {
    const payloads = Array.from({ length: options.iterations }, (_, i) => payloadFor(i));
    let next = 0;
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (next < payloads.length) {
        const payload = payloads[next++]!;
        const result = await uploadArtifact(target, payload);
        check(result);
        results.push(result);
        options.onUploaded?.(payload);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    wallMs = performance.now() - started;
  }
  const latencies = results.map((r) => r.ms);
  const verify = results.map((r) => r.verifyMs).filter((v): v is number => v !== undefined);
  return {
    name: options.name,
    size: options.size,
    iterations: options.iterations,
    concurrency,
    artifactsPerSecond: options.iterations / (wallMs / 1000),
    mibPerSecond: (options.iterations * options.size) / MiB / (wallMs / 1000),
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    meanMs: mean(latencies),
    wallMs,
    methods: [...new Set(results.map((r) => r.method))],
    uploadedCount: results.filter((r) => r.uploaded).length,
    s3Bytes: results.reduce((n, r) => n + r.s3Bytes, 0),
    s3Puts: results.reduce((n, r) => n + r.s3Puts, 0),
    stepsP50: {
      create: percentile(results.map((r) => r.steps.create), 50),
      plan: percentile(results.map((r) => r.steps.plan), 50),
      put: percentile(results.map((r) => r.steps.put), 50),
      complete: percentile(results.map((r) => r.steps.complete), 50),
    },
    ...(verify.length > 0 ? { meanVerifyMs: mean(verify) } : {}),
  };
}
