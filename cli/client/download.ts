/**
 * Downloads: the API answers with a redirect to a short-lived file-store URL, which is
 * fetched without our headers. Each file is written beside its destination, checked
 * against the artifact's SHA-256, and only then moved into place.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { fetchOrExplain, type ConveyorApi, type FetchFn } from './api';
import { downloadTargetPath, prepareDownloadDirectory } from './files';
import type { ProgressReporter } from './progress';
import type { WireArtifact } from './wire';

/** Streams a URL to a file, hashing on the way; returns the SHA-256 and size of what arrived. */
async function fetchToFile(fetchImpl: FetchFn, url: string, destination: string, progress: ProgressReporter): Promise<{ sha256: string; size: number }> {
  const res = await fetchOrExplain(fetchImpl, url, { redirect: 'follow' });
  if (!res.ok || !res.body) {
    const body = await res.text().catch(() => '');
    throw new Error(`Download failed: ${res.status} ${res.statusText}${body ? `: ${body.trim().slice(0, 200)}` : ''}`);
  }
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      progress.advance(chunk.length);
      callback(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(res.body as NodeWebReadableStream<Uint8Array>), tap, createWriteStream(destination));
  return { sha256: hash.digest('hex'), size };
}

function partialPathOf(target: string): string {
  return `${target}.conveyor-partial`;
}

export async function downloadArtifactFiles(
  api: ConveyorApi,
  artifact: WireArtifact,
  targetDir: string,
  progress: ProgressReporter,
): Promise<string[]> {
  const entries = Object.entries(artifact.files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const incomplete = entries.filter(([, file]) => !file.complete).map(([path]) => path);
  if (incomplete.length > 0) {
    throw new Error(`Artifact ${artifact.id} is incomplete; these files have not been uploaded yet: ${incomplete.join(', ')}`);
  }
  // Every path is checked before any byte is written: a bad path fails the whole download.
  const targets = entries.map(([path, file]) => ({ path, file, target: downloadTargetPath(targetDir, path) }));
  const written: string[] = [];
  progress.start(
    entries.reduce((sum, [, f]) => sum + f.size, 0),
    `artifact ${artifact.id}`,
  );
  try {
    for (const { path, file, target } of targets) {
      await prepareDownloadDirectory(targetDir, target);
      const url = await api.fileDownloadUrl(artifact.id, path);
      const partial = partialPathOf(target);
      try {
        const got = await fetchToFile(api.fetchImpl, url, partial, progress);
        if (got.sha256 !== file.checksums.sha256 || got.size !== file.size) {
          throw new Error(
            `${path}: the downloaded bytes do not match the artifact (expected ${file.size} bytes with SHA-256 ${file.checksums.sha256}, ` +
              `got ${got.size} bytes with SHA-256 ${got.sha256}); the file was deleted`,
          );
        }
        await rename(partial, target);
      } catch (err) {
        await rm(partial, { force: true });
        throw err;
      }
      written.push(target);
      progress.fileDone(path, file.size, 'downloaded');
    }
  } finally {
    progress.stop();
  }
  return written;
}

export async function downloadArtifactTarball(
  api: ConveyorApi,
  artifact: WireArtifact,
  targetDir: string,
  progress: ProgressReporter,
): Promise<string> {
  const target = downloadTargetPath(targetDir, `artifact-${artifact.id}.tar.gz`);
  await prepareDownloadDirectory(targetDir, target);
  const url = await api.tarballDownloadUrl(artifact.id);
  const partial = partialPathOf(target);
  // The archive's size is not known in advance: the bar counts the files' bytes, a close estimate.
  progress.start(
    Object.values(artifact.files).reduce((sum, f) => sum + f.size, 0),
    `artifact ${artifact.id}.tar.gz`,
  );
  try {
    const got = await fetchToFile(api.fetchImpl, url, partial, progress);
    await rename(partial, target);
    progress.fileDone(`artifact-${artifact.id}.tar.gz`, got.size, 'downloaded');
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  } finally {
    progress.stop();
  }
  return target;
}
