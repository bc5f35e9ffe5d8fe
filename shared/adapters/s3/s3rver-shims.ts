/**
 * Local-stack and test helper only (never loaded in Lambda): s3rver 3.7.1 implements CreateMultipartUpload,
 * UploadPart and CompleteMultipartUpload, but answers ListParts and AbortMultipartUpload with
 * 405 MethodNotAllowed. S3FileStore needs both (the upload-complete step lists the parts S3 received).
 *
 * `installS3rverMultipartShims(server)` puts a Koa middleware in front of s3rver that serves those two
 * calls from s3rver's own filesystem store (path-style requests, which is how Conveyor talks to it).
 * Call it after `new S3rver(...)` and before `run()`: `installS3rverMultipartShims(server)`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** The parts of s3rver (a Koa app) the shim touches. */
export interface S3rverLike {
  middleware: unknown[];
  store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
}

interface KoaContextLike {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}

type Next = () => Promise<unknown>;

export function installS3rverMultipartShims(s3rver: object): void {
  const server = s3rver as Partial<S3rverLike>;
  if (!Array.isArray(server.middleware) || typeof server.store?.getResourcePath !== 'function') {
    throw new Error('installS3rverMultipartShims: not an s3rver 3.x instance');
  }
  const store = server.store;
  const uploadsRoot = (bucket: string) => store.getResourcePath(bucket, undefined, 'uploads');
  const middleware = async (ctx: KoaContextLike, next: Next): Promise<void> => {
    const uploadId = single(ctx.query['uploadId']);
    if (uploadId === undefined || (ctx.method !== 'GET' && ctx.method !== 'DELETE')) {
      await next();
      return;
    }
    const match = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    if (!match) {
      await next();
      return;
    }
    const bucket = decodeURIComponent(match[1]!);
    const key = decodeURIComponent(match[2]!);
    const dir = /^[0-9a-zA-Z]+$/.test(uploadId) ? path.join(uploadsRoot(bucket), uploadId) : undefined;
    const storedKey = dir ? await fs.readFile(path.join(dir, 'key'), 'utf8').catch(() => undefined) : undefined;
    if (!dir || storedKey !== key) {
      ctx.status = 404;
      ctx.type = 'application/xml';
      ctx.body = xml(
        `<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message><UploadId>${esc(uploadId)}</UploadId></Error>`,
      );
      return;
    }
    if (ctx.method === 'DELETE') {
      await fs.rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = null;
      return;
    }
    const maxParts = clampInt(single(ctx.query['max-parts']), 1000, 1, 1000);
    const marker = clampInt(single(ctx.query['part-number-marker']), 0, 0, 10000);
    const numbers = (await fs.readdir(dir))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .filter((n) => n > marker)
      .sort((a, b) => a - b);
    const parts: string[] = [];
    let last = marker;
    for (const n of numbers) {
      if (parts.length === maxParts) break;
      // The .md5 file is written once the part is fully stored; a part without one is still arriving.
      const md5 = await fs.readFile(path.join(dir, `${n}.md5`), 'utf8').catch(() => undefined);
      if (md5 === undefined) continue;
      const stat = await fs.stat(path.join(dir, String(n)));
      parts.push(
        `<Part><PartNumber>${n}</PartNumber><LastModified>${stat.mtime.toISOString()}</LastModified>` +
          `<ETag>&quot;${esc(md5.trim())}&quot;</ETag><Size>${stat.size}</Size></Part>`,
      );
      last = n;
    }
    // Truncated only when the page is full: parts still arriving (no .md5 yet) are skipped, not pending.
    const truncated = parts.length === maxParts && numbers.some((n) => n > last);
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body = xml(
      `<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${esc(bucket)}</Bucket><Key>${esc(key)}</Key>` +
        `<UploadId>${esc(uploadId)}</UploadId><PartNumberMarker>${marker}</PartNumberMarker>` +
        `<NextPartNumberMarker>${last}</NextPartNumberMarker><MaxParts>${maxParts}</MaxParts>` +
        `<IsTruncated>${truncated}</IsTruncated>${parts.join('')}</ListPartsResult>`,
    );
  };
  server.middleware.unshift(middleware);
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function clampInt(v: string | undefined, dflt: number, min: number, max: number): number {
  const n = v === undefined ? dflt : Number.parseInt(v, 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : dflt;
}

function xml(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
