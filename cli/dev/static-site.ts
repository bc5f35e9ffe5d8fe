/**
 * The web UI's static files on the local stack: what CloudFront serves from S3 in the cloud, the
 * local gateway serves from web/ for every GET that no API route matches. `/` is index.html; paths
 * are resolved inside the directory only (no `..` escapes); unknown files are a 404 problem.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';

/**
 * The UI's source folder (served as it is, no build step): `web/` of the checkout this module runs
 * from, found by walking up, because the module runs from `cli/dev/` (sources) or `dist/` (the
 * compiled CLI that `npm start` uses).
 */
export const WEB_DIR = findWebDir(__dirname);

export function findWebDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'web', 'index.html'))) return join(dir, 'web');
    if (dirname(dir) === dir) return resolve(from, '../../web');
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** What the local gateway answers on the wire. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

export async function staticFile(dir: string, method: string, rawPath: string): Promise<HttpResponse | undefined> {
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (rawPath.startsWith('/api/')) return undefined;
  let relative: string;
  try {
    relative = decodeURIComponent(rawPath === '/' ? '/index.html' : rawPath);
  } catch {
    return undefined;
  }
  const root = resolve(dir);
  const file = resolve(root, normalize(`.${relative}`));
  if (!file.startsWith(root + sep)) return undefined;
  const contentType = CONTENT_TYPES[extname(file)];
  if (contentType === undefined) return undefined;
  let body: Buffer;
  try {
    body = await readFile(join(file));
  } catch {
    return undefined;
  }
  // no-cache: the browser revalidates, so an edited file shows at the next load (as CloudFront's short TTL).
  return { statusCode: 200, headers: { 'content-type': contentType, 'cache-control': 'no-cache' }, body: method === 'HEAD' ? Buffer.alloc(0) : body };
}
