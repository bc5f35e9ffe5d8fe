/**
 * The CloudFront side of Debusine's ranged uploads on the local stack: the same two CloudFront
 * Functions (shared/formats/debusine-range-edge.ts) run here in a `vm` context with stand-ins for the
 * `cloudfront` and `crypto` modules. A range the viewer-request function sends to the bucket is written
 * to the S3 emulator with its metadata, S3's notification is sent to the `debusine-ranges` queue (s3rver
 * sends none), and the viewer-response function shapes the answer. Everything else goes on to the gateway.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Script, createContext } from 'node:vm';
import {
  DEBUSINE_MAX_RANGE_BYTES,
  DEBUSINE_RANGE_ORIGIN_ID,
  DEBUSINE_RANGE_PATH_PATTERN,
  RANGE_VIEWER_REQUEST_SOURCE,
  RANGE_VIEWER_RESPONSE_SOURCE,
} from '../../shared/formats/debusine-range-edge';
import type { HttpResponse } from './http-response';
import { readBodyUpTo } from './read-body';

type CfHeaders = Record<string, { value: string }>;
interface CfRequest {
  method: string;
  uri: string;
  querystring: Record<string, { value: string }>;
  headers: CfHeaders;
  cookies: Record<string, { value: string }>;
}
interface CfResponse {
  statusCode: number;
  statusDescription?: string;
  headers: CfHeaders;
  body?: { encoding?: string; data: string };
}

export interface RangeEdgeOptions {
  /** Stores a range in the bucket (the S3 emulator). */
  putObject(key: string, body: Buffer, metadata: Record<string, string>): Promise<void>;
  /** Sends S3's ObjectCreated notification for the key. */
  notify(key: string): Promise<void>;
}

/** Compiles a CloudFront Function's source; its `import` lines become globals of the context. */
export function compileCloudFrontFunction(source: string): Script {
  const body = source.replace(/^import \w+ from '[\w-]+';$/gm, '');
  return new Script(`${body}\nhandler;`);
}

export function runCloudFrontFunction(script: Script, event: unknown): { result: CfRequest | CfResponse; origin: string | undefined } {
  let origin: string | undefined;
  const context = createContext({
    cf: { selectRequestOriginById: (id: string) => (origin = id) },
    crypto: { createHash: (algorithm: string) => createHash(algorithm) },
  });
  const handler = script.runInContext(context) as (e: unknown) => CfRequest | CfResponse;
  // A JSON round trip keeps objects of the vm's realm from leaking out.
  return { result: JSON.parse(JSON.stringify(handler(event))) as CfRequest | CfResponse, origin };
}

const PATH_PATTERN = new RegExp(`^${DEBUSINE_RANGE_PATH_PATTERN.split('*').map((p) => p.replace(/[.]/g, '\\.')).join('.*')}$`);

function toHttpResponse(response: CfResponse): HttpResponse {
  const headers: Record<string, string> = {};
  for (const [name, { value }] of Object.entries(response.headers ?? {})) headers[name] = value;
  return { statusCode: response.statusCode, headers, body: Buffer.from(response.body?.data ?? '') };
}

export function createRangeEdge(options: RangeEdgeOptions) {
  const viewerRequest = compileCloudFrontFunction(RANGE_VIEWER_REQUEST_SOURCE);
  const viewerResponse = compileCloudFrontFunction(RANGE_VIEWER_RESPONSE_SOURCE);
  return {
    /** The answer for a request this behaviour takes, or undefined to let the gateway route it. */
    async handle(req: IncomingMessage, method: string, url: string): Promise<HttpResponse | undefined> {
      const [uri = '/'] = url.split('?');
      if (!PATH_PATTERN.test(uri)) return undefined;
      const headers: CfHeaders = {};
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i]!.toLowerCase()] = { value: req.rawHeaders[i + 1]! };
      const request: CfRequest = { method, uri, querystring: {}, headers, cookies: {} };
      const viewer = { ip: req.socket.remoteAddress ?? '127.0.0.1' };
      const { result, origin } = runCloudFrontFunction(viewerRequest, { version: '1.0', context: { eventType: 'viewer-request' }, viewer, request });
      if ('statusCode' in result) return toHttpResponse(result);
      if (origin !== DEBUSINE_RANGE_ORIGIN_ID) return undefined;

      // The bucket origin: S3's PutObject of the body under the key the function chose.
      const body = await readBodyUpTo(req, DEBUSINE_MAX_RANGE_BYTES);
      if (body === 'too-large') return { statusCode: 413, headers: {}, body: Buffer.alloc(0) };
      const key = decodeURIComponent(result.uri.slice(1));
      const metadata: Record<string, string> = {};
      for (const [name, { value }] of Object.entries(result.headers)) {
        if (name.startsWith('x-amz-meta-')) metadata[name.slice('x-amz-meta-'.length)] = value;
      }
      await options.putObject(key, body, metadata);
      await options.notify(key);
      const stored: CfResponse = {
        statusCode: 200,
        statusDescription: 'OK',
        headers: { 'x-amz-request-id': { value: randomBytes(8).toString('hex') }, etag: { value: `"${createHash('md5').update(body).digest('hex')}"` } },
      };
      const answered = runCloudFrontFunction(viewerResponse, { version: '1.0', context: { eventType: 'viewer-response' }, viewer, request: result, response: stored });
      return toHttpResponse(answered.result as CfResponse);
    },
  };
}
