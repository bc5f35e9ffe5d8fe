/**
 * Presigned uploads (docs/api.md "Uploads"): the bytes go straight to the file store,
 * the API only hands out URLs and checks the result. A multipart upload resumes where it
 * stopped because the server reports which parts the store already holds.
 */
import { createReadStream } from 'node:fs';
import { fetchOrExplain, NetworkError, type ConveyorApi, type FetchFn } from './api';
import type { HashedFile } from './files';
import type { ProgressReporter } from './progress';
import type { CompletedPart, MultipartUploadPlan } from './wire';

export interface UploadTuning {
  /** Whole-file attempts when the server finds the uploaded bytes do not match (409). */
  maxAttemptsPerFile: number;
  /** Attempts of one PUT when the store fails transiently (network error, 5xx). */
  maxAttemptsPerPut: number;
  /** Parts of one multipart upload sent at the same time. */
  partConcurrency: number;
  /** How long to wait for background verification (202) before giving up. */
  verifyTimeoutMs: number;
  pollInitialMs: number;
  pollMaxMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

export const DEFAULT_UPLOAD_TUNING: UploadTuning = {
  maxAttemptsPerFile: 3,
  maxAttemptsPerPut: 3,
  partConcurrency: 4,
  verifyTimeoutMs: 10 * 60 * 1000,
  pollInitialMs: 500,
  pollMaxMs: 10_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
};

/** One byte range of the local file to PUT: `start` inclusive, `end` exclusive. */
export interface PartTransfer {
  partNumber: number;
  start: number;
  end: number;
  url: string;
}

/**
 * The parts still to send for a multipart plan, with the byte range of each. Part N
 * covers bytes (N-1)×part_size up to the next part or the end of the file; a plan that
 * does not tile the local file exactly is refused rather than producing a corrupt object.
 */
export function partsToSend(plan: MultipartUploadPlan, fileSize: number): PartTransfer[] {
  if (!Number.isInteger(plan.part_size) || plan.part_size <= 0) throw new Error(`Invalid multipart part size ${plan.part_size}`);
  const expectedParts = Math.max(1, Math.ceil(fileSize / plan.part_size));
  const numbers = plan.parts.map((p) => p.part_number).sort((a, b) => a - b);
  if (numbers.length !== expectedParts || numbers.some((n, i) => n !== i + 1)) {
    throw new Error(`The server's multipart plan has parts [${numbers.join(', ')}], expected 1..${expectedParts} for ${fileSize} bytes`);
  }
  const transfers: PartTransfer[] = [];
  for (const part of plan.parts) {
    const start = (part.part_number - 1) * plan.part_size;
    const end = Math.min(start + plan.part_size, fileSize);
    if (part.size !== end - start) {
      throw new Error(`The server's multipart plan gives part ${part.part_number} ${part.size} bytes, the local file needs ${end - start}`);
    }
    if (!part.uploaded) transfers.push({ partNumber: part.part_number, start, end, url: part.url });
  }
  return transfers.sort((a, b) => a.partNumber - b.partNumber);
}

class RetryablePutError extends Error {}

/** Reads `[start, end)` of a file as a stream, reporting each chunk as it is handed to fetch. */
async function* fileRange(localPath: string, start: number, end: number, onChunk: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  if (end <= start) return;
  for await (const chunk of createReadStream(localPath, { start, end: end - 1 })) {
    const bytes = chunk as Buffer;
    onChunk(bytes.length);
    yield bytes;
  }
}

/** S3 errors are XML; their Code and Message say more than the status line. */
function describeStoreError(status: number, statusText: string, body: string): string {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
  if (code || message) return `${status} ${code ?? statusText}${message ? `: ${message}` : ''}`;
  const excerpt = body.trim().slice(0, 200);
  return `${status} ${statusText}${excerpt ? `: ${excerpt}` : ''}`;
}

/** PUTs one byte range to a presigned URL and returns the ETag the store answered with. */
async function putRange(
  fetchImpl: FetchFn,
  target: { url: string; headers?: Record<string, string> },
  localPath: string,
  start: number,
  end: number,
  progress: ProgressReporter,
  tuning: UploadTuning,
  what: string,
): Promise<string> {
  const headers: Record<string, string> = { ...(target.headers ?? {}) };
  // A streamed body would otherwise go out chunked, which presigned S3 PUTs refuse.
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-length')) headers['Content-Length'] = String(end - start);
  for (let attempt = 1; ; attempt += 1) {
    let sent = 0;
    try {
      const init: RequestInit & { duplex: 'half' } = {
        method: 'PUT',
        headers,
        body: fileRange(localPath, start, end, (bytes) => {
          sent += bytes;
          progress.advance(bytes);
        }),
        duplex: 'half',
        redirect: 'error',
      };
      const res = await fetchOrExplain(fetchImpl, target.url, init);
      if (res.ok) {
        await res.body?.cancel();
        return res.headers.get('etag') ?? '';
      }
      const message = `${what}: the file store answered ${describeStoreError(res.status, res.statusText, await res.text().catch(() => ''))}`;
      if (res.status >= 500) throw new RetryablePutError(message);
      throw new Error(message);
    } catch (err) {
      progress.advance(-sent);
      const transient = err instanceof RetryablePutError || err instanceof NetworkError;
      if (!transient || attempt >= tuning.maxAttemptsPerPut) throw err;
      await tuning.sleep(tuning.pollInitialMs * 2 ** (attempt - 1));
    }
  }
}

/** Runs the tasks with at most `limit` in flight; the first failure wins. */
async function runLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export type FileOutcome = 'uploaded' | 'already stored' | 'verifying';

/** One attempt at one file: ask for a plan, send what is missing, ask the server to check it. */
async function uploadOnce(
  api: ConveyorApi,
  artifactId: number,
  file: HashedFile,
  progress: ProgressReporter,
  tuning: UploadTuning,
): Promise<{ outcome: FileOutcome } | { mismatch: string }> {
  const plan = await api.startUpload(artifactId, file.path);
  if (plan.complete) {
    progress.advance(file.size);
    return { outcome: 'already stored' };
  }
  if ('verifying' in plan) {
    // Uploaded before (e.g. by an interrupted run) and being checked: wait for it, send nothing.
    progress.advance(file.size);
    return { outcome: 'verifying' };
  }
  let completion;
  if (plan.method === 'single') {
    await putRange(api.fetchImpl, plan, file.localPath, 0, file.size, progress, tuning, `PUT ${file.path}`);
    completion = await api.completeUpload(artifactId, file.path);
  } else if (plan.method === 'multipart') {
    const toSend = partsToSend(plan, file.size);
    const etags = new Map<number, string>();
    for (const part of plan.parts) {
      if (!part.uploaded) continue;
      if (!part.etag) throw new Error(`The server reports part ${part.part_number} of ${file.path} as uploaded but gives no ETag`);
      etags.set(part.part_number, part.etag);
      progress.advance(part.size);
    }
    await runLimited(toSend, tuning.partConcurrency, async (part) => {
      const what = `PUT ${file.path} part ${part.partNumber}`;
      const etag = await putRange(api.fetchImpl, { url: part.url }, file.localPath, part.start, part.end, progress, tuning, what);
      if (!etag) throw new Error(`${what}: the file store answered without an ETag header`);
      etags.set(part.partNumber, etag);
    });
    const parts: CompletedPart[] = [...etags.entries()].sort(([a], [b]) => a - b).map(([part_number, etag]) => ({ part_number, etag }));
    completion = await api.completeUpload(artifactId, file.path, parts);
  } else {
    throw new Error(`The server proposed an upload method this client does not know: ${JSON.stringify(plan)}`);
  }
  if (completion.status === 409) {
    progress.advance(-file.size);
    return { mismatch: completion.detail ?? '409 Conflict' };
  }
  return { outcome: completion.status === 202 ? 'verifying' : 'uploaded' };
}

export async function uploadFile(
  api: ConveyorApi,
  artifactId: number,
  file: HashedFile,
  progress: ProgressReporter,
  tuning: UploadTuning = DEFAULT_UPLOAD_TUNING,
): Promise<FileOutcome> {
  let lastMismatch = '';
  for (let attempt = 1; attempt <= tuning.maxAttemptsPerFile; attempt += 1) {
    const result = await uploadOnce(api, artifactId, file, progress, tuning);
    if ('outcome' in result) return result.outcome;
    // The server discarded the bytes; a fresh plan starts the file again.
    lastMismatch = result.mismatch;
  }
  throw new Error(
    `${file.path}: the server rejected the uploaded bytes ${tuning.maxAttemptsPerFile} times (last answer: ${lastMismatch}). ` +
      'Was the file modified while it was being uploaded?',
  );
}

/** Polls the artifact, with backoff, until every named file is complete. */
export async function waitForFiles(api: ConveyorApi, artifactId: number, paths: string[], tuning: UploadTuning = DEFAULT_UPLOAD_TUNING): Promise<void> {
  const deadline = tuning.now() + tuning.verifyTimeoutMs;
  let delay = tuning.pollInitialMs;
  for (;;) {
    const artifact = await api.getArtifact(artifactId);
    const pending = paths.filter((path) => !artifact.files[path]?.complete);
    if (pending.length === 0) return;
    if (tuning.now() >= deadline) {
      throw new Error(
        `Timed out waiting for the server to verify ${pending.join(', ')} of artifact ${artifactId}. ` +
          `Check later with "conveyor artifact show ${artifactId}"; if they stay incomplete, run "conveyor artifact upload ${artifactId}" with those files.`,
      );
    }
    await tuning.sleep(delay);
    delay = Math.min(delay * 2, tuning.pollMaxMs);
  }
}

export interface UploadSummary {
  uploaded: string[];
  alreadyStored: string[];
}

/**
 * Uploads the files one after another, then waits once for any that the server checks
 * in the background, so big files are verified while the next ones travel.
 */
export async function uploadFiles(
  api: ConveyorApi,
  artifactId: number,
  files: HashedFile[],
  progress: ProgressReporter,
  tuning: UploadTuning = DEFAULT_UPLOAD_TUNING,
): Promise<UploadSummary> {
  const summary: UploadSummary = { uploaded: [], alreadyStored: [] };
  const verifying: string[] = [];
  progress.start(
    files.reduce((sum, f) => sum + f.size, 0),
    `artifact ${artifactId}`,
  );
  try {
    for (const file of files) {
      const outcome = await uploadFile(api, artifactId, file, progress, tuning);
      if (outcome === 'already stored') summary.alreadyStored.push(file.path);
      else summary.uploaded.push(file.path);
      if (outcome === 'verifying') verifying.push(file.path);
      progress.fileDone(file.path, file.size, outcome === 'already stored' ? 'already stored' : 'uploaded');
    }
    if (verifying.length > 0) await waitForFiles(api, artifactId, verifying, tuning);
  } finally {
    progress.stop();
  }
  return summary;
}
