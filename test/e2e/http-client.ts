/**
 * A fetch-based `Client` (test/support/contract.ts) for a running Conveyor: the same contract
 * tables that run in-process against the memory fakes run over real HTTP against the local stack.
 *
 *   const http = fetchClient(stack.url);
 *   const res = await http('GET', '/api/1.0/whoami/', { token });
 *
 * Redirects are not followed (`redirect: 'manual'`), so a 302 and its `location` reach the test.
 * A string `body` is sent as written (to test malformed JSON), an object as JSON; both default to
 * `content-type: application/json` unless `headers` says otherwise. `rawBody` is sent as bytes.
 */
import type { Client, ClientResponse } from '../support/contract';

export interface FetchClientResponse extends ClientResponse {
  /** The response body as text (empty for 204 and redirects). */
  text: string;
}

export type FetchClient = (...args: Parameters<Client>) => Promise<FetchClientResponse>;

export function fetchClient(baseUrl: string, defaults: { timeoutMs?: number } = {}): FetchClient {
  const base = baseUrl.replace(/\/+$/, '');
  return async (method, url, opts = {}) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(opts.headers ?? {})) headers[name.toLowerCase()] = value;
    if (opts.token !== undefined) headers['token'] = opts.token;
    let body: Uint8Array | string | undefined;
    if (opts.rawBody !== undefined) {
      body = new Uint8Array(opts.rawBody.buffer, opts.rawBody.byteOffset, opts.rawBody.byteLength);
    } else if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const target = /^https?:\/\//.test(url) ? url : `${base}${url.startsWith('/') ? '' : '/'}${url}`;
    const res = await fetch(target, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      redirect: 'manual',
      signal: AbortSignal.timeout(defaults.timeoutMs ?? 60_000),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const responseHeaders: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      responseHeaders[name.toLowerCase()] = value;
    });
    return { status: res.status, headers: responseHeaders, json, text };
  };
}
