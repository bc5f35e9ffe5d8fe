import { createHash } from 'node:crypto';
import type middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** A strong validator of the exact bytes of a body. */
export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/** `If-None-Match` matches when it is `*` or lists the tag (weak comparison: a `W/` prefix is ignored). */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const wanted = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => {
    const candidate = tag.trim().replace(/^W\//, '');
    return candidate === '*' || candidate === wanted;
  });
}

/**
 * Conditional GETs, so that pollers (the web UI refreshes pages every few seconds) get a body-less
 * 304 when nothing changed: every 200 answer to a GET carries an `ETag` of its body, and a request
 * whose `If-None-Match` names it gets 304 Not Modified. The tag is computed from the answer the
 * function built anyway, so it costs no extra read; what it saves is the transfer. `Vary: Token`
 * because the same URL answers differently to different callers.
 */
export function conditionalGet(): middy.MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    after: async (request) => {
      const response = request.response;
      const method = request.event.requestContext?.http?.method ?? 'GET';
      if (method !== 'GET' || !response || (response.statusCode ?? 200) !== 200) return;
      if (typeof response.body !== 'string' || response.isBase64Encoded) return;
      const etag = etagOf(response.body);
      const headers: Record<string, string | number | boolean> = { ...(response.headers ?? {}), etag, vary: 'Token' };
      const ifNoneMatch = Object.entries(request.event.headers ?? {}).find(([name]) => name.toLowerCase() === 'if-none-match')?.[1];
      if (ifNoneMatchMatches(ifNoneMatch, etag)) {
        delete headers['content-type'];
        request.response = { statusCode: 304, headers, body: '' };
        return;
      }
      request.response = { ...response, headers };
    },
  };
}
