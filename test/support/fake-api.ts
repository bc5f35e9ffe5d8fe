/** A fake Conveyor API for the CLI client tests: `fetch` replaced by a function the test drives. */

export interface ApiCall {
  method: string;
  /** The path below `/api/1.0/`, with its query string. */
  path: string;
  headers: Record<string, string>;
  /** The parsed JSON body, present only when the request had one. */
  body?: unknown;
}

export interface ApiAnswer {
  status: number;
  body?: unknown;
}

/** A `fetch` that hands every call to `handle` and answers with its JSON (a problem document from status 400 on). */
export function fakeApiFetch(handle: (call: ApiCall) => ApiAnswer): typeof fetch {
  return async (input, init) => {
    const url = new URL(String(input));
    const call: ApiCall = {
      method: init?.method ?? 'GET',
      path: url.pathname.replace('/api/1.0/', '') + url.search,
      headers: init?.headers as Record<string, string>,
      ...(typeof init?.body === 'string' ? { body: JSON.parse(init.body) } : {}),
    };
    const a = handle(call);
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), {
      status: a.status,
      headers: { 'content-type': a.status >= 400 ? 'application/problem+json' : 'application/json' },
    });
  };
}
