import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../domain/errors';
import { DEFAULT_SCOPE } from '../domain/tenancy';
import type { Caller } from '../app/auth';

export const MAX_JSON_BODY_BYTES = 1024 * 1024;

export interface HttpRequest {
  event: APIGatewayProxyEventV2;
  method: string;
  routeKey: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  rawBody: Buffer;
  caller: Caller;
  scope: string;
  /** Scheme and host the client used, for the `url` fields of responses. */
  baseUrl: string;
}

export type HttpResponse = APIGatewayProxyStructuredResultV2;
export type RouteHandler = (req: HttpRequest) => Promise<HttpResponse>;

export function decodeBody(event: APIGatewayProxyEventV2): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

export function normaliseHeaders(headers: APIGatewayProxyEventV2['headers'] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

export function scopeOf(headers: Record<string, string>): string {
  return headers['x-debusine-scope']?.trim() || DEFAULT_SCOPE;
}

export function baseUrlOf(event: APIGatewayProxyEventV2, headers: Record<string, string>): string {
  const host = headers['x-forwarded-host'] ?? headers['host'] ?? event.requestContext?.domainName ?? 'localhost';
  const proto = headers['x-forwarded-proto'] ?? (host.startsWith('127.0.0.1') || host.startsWith('localhost') ? 'http' : 'https');
  return `${proto}://${host}`;
}

/** The JSON body of a request: 415 for another media type, 413 when too large, 400 when malformed. */
export function jsonBody(req: HttpRequest): unknown {
  const type = req.headers['content-type'];
  if (type && !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type.trim())) {
    throw new UnsupportedMediaTypeError('Unsupported Media Type', `send application/json, not "${type}"`);
  }
  if (req.rawBody.length > MAX_JSON_BODY_BYTES) {
    throw new PayloadTooLargeError('Payload Too Large', `JSON bodies are limited to ${MAX_JSON_BODY_BYTES} bytes (MAX_JSON_BODY_BYTES)`);
  }
  if (req.rawBody.length === 0) return {};
  try {
    return JSON.parse(req.rawBody.toString('utf8'));
  } catch (err) {
    throw ValidationError.field('(body)', `malformed JSON: ${(err as Error).message}`, 'Malformed JSON');
  }
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function noContent(headers: Record<string, string> = {}): HttpResponse {
  return { statusCode: 204, headers, body: '' };
}

export function redirect(location: string): HttpResponse {
  return { statusCode: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
}
