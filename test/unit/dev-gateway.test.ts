import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { FUNCTIONS, type FunctionSpec } from '../../shared/manifest';
import {
  MAX_REQUEST_BODY_BYTES,
  buildEvent,
  matchRoute,
  parseRouteKey,
  routesOf,
  startGateway,
  toHttpResponse,
  type Gateway,
} from '../../cli/dev/gateway';
import type { LambdaHandler, Log } from '../../cli/dev/handlers';

function fnWithRoutes(name: string, routes: string[], timeoutSeconds = 29): FunctionSpec {
  return { name, entry: `functions/${name}.ts`, description: name, timeoutSeconds, memoryMb: 128, routes, uses: { tables: {} } };
}

function matchedKey(routeKeys: string[], method: string, path: string): string | undefined {
  return matchRoute(routesOf([fnWithRoutes('f', routeKeys)]), method, path)?.route.routeKey;
}

describe('route matching', () => {
  it('matches {param} to exactly one non-empty segment', () => {
    const routes = routesOf([fnWithRoutes('f', ['GET /a/{id}/'])]);
    expect(matchRoute(routes, 'GET', '/a/42/')?.pathParameters).toEqual({ id: '42' });
    expect(matchRoute(routes, 'GET', '/a//')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/a/1/2/')).toBeUndefined();
  });

  it('matches {name+} greedily, slashes included, but not an empty rest', () => {
    const routes = routesOf([fnWithRoutes('f', ['PUT /a/{id}/files/{path+}'])]);
    expect(matchRoute(routes, 'PUT', '/a/7/files/dir/sub/x.txt')?.pathParameters).toEqual({ id: '7', path: 'dir/sub/x.txt' });
    expect(matchRoute(routes, 'PUT', '/a/7/files/dir/')?.pathParameters).toEqual({ id: '7', path: 'dir/' });
    expect(matchRoute(routes, 'PUT', '/a/7/files/')).toBeUndefined();
    expect(matchRoute(routes, 'PUT', '/a/7/files')).toBeUndefined();
  });

  it('matches with or without the trailing slash, as API Gateway does with the deployed paths', () => {
    expect(matchedKey(['GET /api/1.0/whoami/'], 'GET', '/api/1.0/whoami/')).toBe('GET /api/1.0/whoami/');
    // Debusine's client asks for `artifact/<id>` without the slash (Debusine's server redirects).
    expect(matchRoute(routesOf([fnWithRoutes('f', ['GET /api/1.0/artifact/{id}/'])]), 'GET', '/api/1.0/artifact/12')?.pathParameters).toEqual({ id: '12' });
    expect(matchedKey(['GET /api/1.0/whoami/'], 'GET', '/api/1.0/whoami')).toBe('GET /api/1.0/whoami/');
    expect(matchedKey(['GET /x'], 'GET', '/x/')).toBe('GET /x');
    expect(matchedKey(['GET /x/'], 'GET', '/x//')).toBeUndefined();
    expect(matchedKey(['GET /a/', 'GET /a/{id}/'], 'GET', '/a')).toBe('GET /a/');
  });

  it('matches the method, with ANY as a fallback', () => {
    expect(matchedKey(['GET /a/'], 'POST', '/a/')).toBeUndefined();
    expect(matchedKey(['GET /a/'], 'get', '/a/')).toBe('GET /a/');
    expect(matchedKey(['ANY /a/', 'GET /a/'], 'GET', '/a/')).toBe('GET /a/');
    expect(matchedKey(['ANY /a/', 'GET /a/'], 'DELETE', '/a/')).toBe('ANY /a/');
  });

  it('prefers the most specific route: literal over {param} over {greedy+}, $default last', () => {
    const keys = ['GET /a/{id}/', 'GET /a/special/', 'GET /a/{rest+}', '$default'];
    expect(matchedKey(keys, 'GET', '/a/special/')).toBe('GET /a/special/');
    expect(matchedKey(keys, 'GET', '/a/other/')).toBe('GET /a/{id}/');
    expect(matchedKey(keys, 'GET', '/a/b/c')).toBe('GET /a/{rest+}');
    expect(matchedKey(keys, 'GET', '/elsewhere')).toBe('$default');
    // Route order in the manifest does not matter.
    expect(matchedKey([...keys].reverse(), 'GET', '/a/special/')).toBe('GET /a/special/');
    expect(matchedKey(['GET /a/{x}/{rest+}', 'GET /a/{x}/b/{rest+}'], 'GET', '/a/1/b/c')).toBe('GET /a/{x}/b/{rest+}');
  });

  it('decodes path parameters but splits on real slashes only', () => {
    const routes = routesOf([fnWithRoutes('f', ['GET /a/{id}/', 'GET /f/{path+}'])]);
    expect(matchRoute(routes, 'GET', '/a/x%2Fy/')?.pathParameters).toEqual({ id: 'x/y' });
    expect(matchRoute(routes, 'GET', '/f/dir/a%20b.txt')?.pathParameters).toEqual({ path: 'dir/a b.txt' });
  });

  it('rejects malformed and duplicate route keys', () => {
    expect(() => parseRouteKey('GET a/', fnWithRoutes('f', []))).toThrow(/invalid route key/);
    expect(() => parseRouteKey('GET /{p+}/x', fnWithRoutes('f', []))).toThrow(/greedy/);
    expect(() => routesOf([fnWithRoutes('f', ['GET /a/']), fnWithRoutes('g', ['GET /a/'])])).toThrow(/twice/);
  });

  it("routes the manifest's API to the right functions", () => {
    const routes = routesOf(FUNCTIONS);
    const at = (method: string, path: string) => {
      const m = matchRoute(routes, method, path);
      return m && { fn: m.route.fn.name, key: m.route.routeKey, params: m.pathParameters };
    };
    expect(at('GET', '/api/1.0/whoami/')).toEqual({ fn: 'identity-api', key: 'GET /api/1.0/whoami/', params: {} });
    expect(at('GET', '/api/1.0/artifact/12/')).toMatchObject({ fn: 'artifacts-api', params: { id: '12' } });
    expect(at('PUT', '/api/1.0/artifact/12/files/usr/share/doc/x.gz')).toEqual({
      fn: 'artifacts-api',
      key: 'PUT /api/1.0/artifact/{id}/files/{path+}',
      params: { id: '12', path: 'usr/share/doc/x.gz' },
    });
    expect(at('GET', '/api/1.0/artifact/12/download/')?.key).toBe('GET /api/1.0/artifact/{id}/download/');
    expect(at('POST', '/api/1.0/artifact/12/upload-complete/a/b')?.key).toBe('POST /api/1.0/artifact/{id}/upload-complete/{path+}');
    expect(at('GET', '/api/1.0/nothing/')).toBeUndefined();
  });

  it('routes the work-request and worker APIs, literal segments before {id} and {name}', () => {
    const routes = routesOf(FUNCTIONS);
    const at = (method: string, path: string) => {
      const m = matchRoute(routes, method, path);
      return m && { fn: m.route.fn.name, key: m.route.routeKey, params: m.pathParameters };
    };
    expect(at('GET', '/api/1.0/work-request/get-next-for-worker/')).toEqual({
      fn: 'work-requests-api',
      key: 'GET /api/1.0/work-request/get-next-for-worker/',
      params: {},
    });
    expect(at('GET', '/api/1.0/work-request/7/')).toEqual({ fn: 'work-requests-api', key: 'GET /api/1.0/work-request/{id}/', params: { id: '7' } });
    expect(at('PUT', '/api/1.0/work-request/7/completed/')?.key).toBe('PUT /api/1.0/work-request/{id}/completed/');
    expect(at('POST', '/api/1.0/work-request/7/heartbeat/')?.key).toBe('POST /api/1.0/work-request/{id}/heartbeat/');
    expect(at('GET', '/api/1.0/worker/queue/')).toEqual({ fn: 'workers-api', key: 'GET /api/1.0/worker/queue/', params: {} });
    expect(at('GET', '/api/1.0/worker/bee-lan/')).toEqual({ fn: 'workers-api', key: 'GET /api/1.0/worker/{name}/', params: { name: 'bee-lan' } });
    expect(at('POST', '/api/1.0/worker/register/')?.fn).toBe('workers-api');
    expect(at('PUT', '/api/1.0/worker/dynamic-metadata/')?.fn).toBe('workers-api');
    // Queue and schedule consumers have no route.
    for (const fn of ['scheduler', 'heartbeat-applier', 'watchdog', 'server-task-runner']) {
      expect(routes.filter((r) => r.fn.name === fn)).toEqual([]);
    }
  });
});

describe('API Gateway v2 events', () => {
  const match = matchRoute(routesOf([fnWithRoutes('f', ['POST /a/{id}/'])]), 'POST', '/a/1/')!;
  const request = {
    method: 'POST',
    url: '/a/1/?x=1&y=two%20words&x=3&flag',
    rawHeaders: ['Host', 'example.test:8080', 'X-Multi', 'a', 'x-multi', 'b', 'User-Agent', 'ua/1', 'Cookie', 'a=1; b=2', 'Content-Type', 'application/json'],
    body: Buffer.from('{"k":"é"}'),
    sourceIp: '::ffff:127.0.0.1',
    httpVersion: '1.1',
    localHost: '127.0.0.1:8080',
  };

  it('has the payload 2.0 shape', () => {
    const now = new Date(Date.UTC(2026, 2, 5, 9, 8, 7));
    const event = buildEvent(request, match, now);
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /a/{id}/',
      rawPath: '/a/1/',
      rawQueryString: 'x=1&y=two%20words&x=3&flag',
      cookies: ['a=1', 'b=2'],
      queryStringParameters: { x: '1,3', y: 'two words', flag: '' },
      pathParameters: { id: '1' },
      body: '{"k":"é"}',
      isBase64Encoded: false,
      requestContext: {
        accountId: expect.any(String),
        apiId: expect.any(String),
        domainName: 'example.test:8080',
        http: { method: 'POST', path: '/a/1/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'ua/1' },
        requestId: expect.any(String),
        routeKey: 'POST /a/{id}/',
        stage: '$default',
        time: '05/Mar/2026:09:08:07 +0000',
        timeEpoch: now.getTime(),
      },
    });
    expect(event.headers).toMatchObject({ host: 'example.test:8080', 'x-multi': 'a,b', 'user-agent': 'ua/1', 'content-type': 'application/json' });
    expect(event.headers.cookie).toBeUndefined();
    expect(Object.keys(event.headers).every((h) => h === h.toLowerCase())).toBe(true);
  });

  it('base64-encodes bodies that are not text, and leaves out what is absent', () => {
    const bytes = Buffer.from([0, 255, 1, 2, 3]);
    const binary = buildEvent({ ...request, rawHeaders: ['Content-Type', 'application/octet-stream'], body: bytes }, match);
    expect(binary.isBase64Encoded).toBe(true);
    expect(Buffer.from(binary.body!, 'base64')).toEqual(bytes);

    const bare = buildEvent({ ...request, url: '/a/1/', rawHeaders: [], body: Buffer.alloc(0) }, match);
    expect(bare.body).toBeUndefined();
    expect(bare.isBase64Encoded).toBe(false);
    expect(bare.queryStringParameters).toBeUndefined();
    expect(bare.cookies).toBeUndefined();
    expect(bare.requestContext.domainName).toBe('127.0.0.1:8080');
  });

  it('turns results into HTTP responses as API Gateway does', () => {
    expect(toHttpResponse({ statusCode: 201, headers: { 'X-A': 1 }, body: 'hi', cookies: ['a=1', 'b=2'] })).toEqual({
      statusCode: 201,
      headers: { 'x-a': '1', 'set-cookie': ['a=1', 'b=2'] },
      body: Buffer.from('hi'),
    });
    expect(toHttpResponse({ statusCode: 200, body: Buffer.from([9, 8]).toString('base64'), isBase64Encoded: true }).body).toEqual(
      Buffer.from([9, 8]),
    );
    // Not a structured result: 200 with the value as JSON.
    expect(toHttpResponse({ hello: 'world' })).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{"hello":"world"}'),
    });
  });
});

describe('gateway server', () => {
  const functions = [
    fnWithRoutes('echo', ['ANY /echo/{rest+}']),
    fnWithRoutes('binary', ['GET /binary/']),
    fnWithRoutes('throws', ['GET /throws/']),
    fnWithRoutes('slow', ['GET /slow/'], 1),
    fnWithRoutes('broken', ['GET /broken/']),
  ];
  const calls: APIGatewayProxyEventV2[] = [];
  /** The gateway stops waiting for a slow handler, but the handler itself runs on: await it. */
  let slowRun: Promise<unknown> = Promise.resolve();
  const handlers: Record<string, LambdaHandler> = {
    echo: async (event) => {
      calls.push(event as APIGatewayProxyEventV2);
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, cookies: ['s=1; Path=/', 't=2'], body: JSON.stringify(event) };
    },
    binary: async () => ({ statusCode: 200, headers: { 'content-type': 'image/png' }, body: Buffer.from([0x89, 0x50, 0, 0xff]).toString('base64'), isBase64Encoded: true }),
    throws: async () => {
      throw new Error('boom');
    },
    slow: () => {
      slowRun = new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200 }), 600));
      return slowRun;
    },
  };
  const logged: { level: string; message: string }[] = [];
  const log: Log = (level, message) => logged.push({ level, message });
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await startGateway({
      functions,
      port: 0,
      log,
      integrationTimeoutMs: 300,
      loadHandler: async (fn) => {
        const handler = handlers[fn.name];
        if (!handler) throw new Error(`cannot load ${fn.entry}`);
        return handler;
      },
    });
  });
  afterAll(async () => {
    await gateway.close();
    await slowRun;
  });
  beforeEach(() => {
    calls.length = 0;
    logged.length = 0;
  });

  it('listens on loopback', () => {
    expect(gateway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('passes the request to the handler and writes back status, headers, cookies and body', async () => {
    const response = await fetch(`${gateway.url}/echo/a/b%20c?q=1`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual(['s=1; Path=/', 't=2']);
    const event = (await response.json()) as APIGatewayProxyEventV2;
    expect(event).toMatchObject({
      routeKey: 'ANY /echo/{rest+}',
      rawPath: '/echo/a/b%20c',
      pathParameters: { rest: 'a/b c' },
      queryStringParameters: { q: '1' },
      body: 'hello',
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', sourceIp: '127.0.0.1' } },
    });
    expect(calls).toHaveLength(1);
  });

  it('round-trips binary bodies through base64', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252]);
    const response = await fetch(`${gateway.url}/echo/bin`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    const event = (await response.json()) as APIGatewayProxyEventV2;
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body!, 'base64')).toEqual(bytes);

    const png = await fetch(`${gateway.url}/binary/`);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await png.arrayBuffer())).toEqual(Buffer.from([0x89, 0x50, 0, 0xff]));
  });

  it('answers 404 problem+json when no route matches', async () => {
    const response = await fetch(`${gateway.url}/nowhere/`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toEqual({ type: 'about:blank', title: 'Not Found', status: 404 });
  });

  it('answers 413 problem+json above 10 MiB without calling the handler', async () => {
    const response = await fetch(`${gateway.url}/echo/big`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(MAX_REQUEST_BODY_BYTES + 1),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 413 });
    expect(calls).toHaveLength(0);
  });

  it('accepts a body of exactly 10 MiB', async () => {
    const response = await fetch(`${gateway.url}/echo/limit`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(MAX_REQUEST_BODY_BYTES, 7),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    expect(Buffer.from(calls[0]!.body!, 'base64').length).toBe(MAX_REQUEST_BODY_BYTES);
  });

  it('turns a throwing handler into 500 problem+json, logs it, and keeps serving', async () => {
    const response = await fetch(`${gateway.url}/throws/`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ type: 'about:blank', title: 'Internal Server Error', status: 500 });
    expect(logged.some((l) => l.level === 'error' && l.message.includes('boom'))).toBe(true);
    // A module that cannot be loaded is a 500 too.
    expect((await fetch(`${gateway.url}/broken/`)).status).toBe(500);
    expect((await fetch(`${gateway.url}/echo/still-alive`)).status).toBe(200);
  });

  it('answers 503 when the handler outlives the integration timeout', async () => {
    const response = await fetch(`${gateway.url}/slow/`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: 503 });
  });
});
