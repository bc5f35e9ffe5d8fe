/**
 * Part (a): randomized bad inputs across every route of the manifest. Each case sends one request
 * with at least one bad element (a bad token, a malformed or wrongly typed body, a huge or unicode
 * string, a path trick, a bad range or query) and checks two things: no 5xx, and a refused request
 * (4xx) changed nothing the memory adapters hold (a canonical snapshot before and after).
 */
import fc from 'fast-check';
import { allRoutes, createReliabilityWorld, seededIdFor, snapshotOf, type CallOptions, type ReliabilityWorld } from './app';

export interface BadInputResult {
  cases: number;
  seed: number;
  routes: number;
  routesHit: number;
  serverErrors: { request: string; status: number; body: string }[];
  changesAfterRefusal: { request: string; status: number }[];
  /** Cases whose request turned out to be acceptable for that route (2xx): counted, not a failure. */
  accepted: number;
  byStatus: Record<string, number>;
  seconds: number;
}

const ROUTES = allRoutes();

/** Percent-encodes any string, lone surrogates included (they become U+FFFD, as on the wire). */
const pct = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('');

/** Values that must never be taken for an id, a name or a path. */
const trickySegment = fc.oneof(
  fc.constantFrom(
    '..', '%2e%2e', '..%2f..%2fetc%2fpasswd', '-1', '0', '1.5', '1e3', '0x10', '99999999999999999999999', 'NaN', 'Infinity',
    'null', 'undefined', '%00', '%20', '%E2%80%AE', '%F0%9F%92%A9', 'a%2Fb', '%25', '{id}', '$(id)', "'; DROP TABLE x;--", '~', '.',
  ),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map(pct),
  fc.integer({ min: 100_000, max: 2 ** 31 }).map(String),
  fc.nat({ max: 400 }).map((n) => 'x'.repeat(n + 200)),
);

const hugeOrUnicode = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.nat({ max: 3 }).map((n) => 'é'.repeat([300, 5_000, 70_000, 600_000][n]!)),
  fc.constantFrom('\u0000', '\uD800', '\uFEFF', '‮evil', '../../etc/passwd', '/abs', 'a\nb', ' ', ''),
);

/** A JSON value of the wrong type, or an object whose fields carry them. */
const wrongJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1.5, 'string', [], [1, 2], {}),
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(
    fc.constantFrom('workspace', 'category', 'data', 'files', 'task_name', 'task_data', 'name', 'id', 'artifact', 'target', 'type', 'priority_adjustment',
      'template_name', 'kind', 'update_interval', 'review_status', 'limit', 'concurrency', 'metadata', 'result', 'username', 'value', 'size', 'checksums',
      'message', 'expire_at', 'public', 'role', 'sha256', 'path', 'token', 'enabled', 'quota', 'cpu', 'disk', 'lookup', 'lookups'),
    fc.oneof(hugeOrUnicode, fc.constantFrom(null, -1, 1e308, 2 ** 53 + 1, true, [], {}, [null], { $ne: 1 }), fc.jsonValue({ maxDepth: 2 })),
    { minKeys: 1, maxKeys: 6 },
  ),
);

const malformedBody = fc.oneof(
  fc.constantFrom('{', '{"a":', '[1,2', 'nul', '{"a":1}}', "{'a':1}", '\u0000', '{"a":NaN}', '\uFEFF{}', '{"__proto__":{"admin":true}}', '"'.repeat(10)),
  fc.string({ maxLength: 100 }).map((s) => `{${s}`),
  fc.nat({ max: 2 }).map((n) => `{"data":"${'a'.repeat([1_100_000, 2_000_000, 1_048_577][n]!)}"}`),
);

type TokenKind = 'none' | 'garbage' | 'disabled' | 'worker' | 'role';
const ROLES = ['admin', 'owner', 'contributor', 'uploader', 'viewer', 'outsider'];
const tokenArb = fc.oneof(
  fc.record({ kind: fc.constant<TokenKind>('garbage'), value: fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('', ' ', 'Token x', 'x'.repeat(5000), 'null')) }),
  fc.record({ kind: fc.constantFrom<TokenKind>('none', 'disabled', 'worker'), value: fc.constant('') }),
  fc.record({ kind: fc.constant<TokenKind>('role'), value: fc.constantFrom(...ROLES) }),
);

const badQuery = fc.oneof(
  fc.constantFrom(
    'limit=-1', 'limit=0', 'limit=abc', 'limit=1e9', 'limit=99999999999999999999', 'cursor=garbage', 'cursor=%00', 'cursor=eyJ4IjoxfQ', 'workspace=..%2Fpriv',
    'workspace=', 'archive=zip', 'archive=..', 'artifact=-1', 'target_artifact=x', 'user=%00', 'status=bogus', 'task_name=%F0%9F%92%A9', 'limit=1&limit=2',
  ),
  fc.tuple(fc.constantFrom('limit', 'cursor', 'workspace', 'status', 'task_name', 'archive', 'artifact', 'run', 'user', 'template'), hugeOrUnicode).map(
    ([k, v]) => `${k}=${pct(v.slice(0, 3000))}`,
  ),
);

const badHeaders = fc.oneof(
  fc.record({ range: fc.constantFrom('bytes=5-1', 'bytes=-0', 'bytes=99999999-', 'bytes=a-b', 'items=0-1', 'bytes=0-1,2-3', 'bytes=') }),
  fc.record({ 'content-range': fc.constantFrom('bytes 5-1/10', 'bytes 0-9/5', 'bytes */*', 'bytes 0-0/0', 'garbage', 'bytes -1-2/3', 'bytes 0-99999999999/100000000000') }),
  fc.record({ 'x-debusine-scope': fc.constantFrom('nope', '..', 'x'.repeat(3000), '%00') }),
  fc.record({ 'content-type': fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16') }),
  fc.record({ 'if-none-match': fc.constantFrom('*', '"', 'W/"x"', 'x'.repeat(3000)) }),
);

/** What makes the case bad; every case has at least this one. */
const badness = fc.constantFrom('token', 'segment', 'malformed', 'wrong-json', 'query', 'header');

export const caseArb = fc.record({
  route: fc.nat({ max: ROUTES.length - 1 }),
  workspace: fc.constantFrom<'priv' | 'pub'>('priv', 'pub'),
  badness,
  token: tokenArb,
  segment: trickySegment,
  malformed: malformedBody,
  body: wrongJson,
  query: badQuery,
  headers: badHeaders,
});
export type BadCase = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** The real id a path parameter names in the seeded world, for the route's resource. */
function realSegment(world: ReliabilityWorld, ws: 'priv' | 'pub', path: string, param: string): string {
  const s = world.seeded[ws];
  if (param === 'path+') return s.filePath;
  if (param === 'username') return 'viewer';
  if (param === 'name') return path.includes('/collection/') ? 'missing-item' : world.worker.name;
  if (path.startsWith('/api/1.0/admin/')) return 'no-such-token';
  return String(seededIdFor(s, path) ?? s.artifact);
}

function tokenValue(world: ReliabilityWorld, t: BadCase['token']): string | undefined {
  switch (t.kind) {
    case 'none':
      return undefined;
    case 'garbage':
      return t.value;
    case 'disabled':
      return world.keys['disabled'];
    case 'worker':
      return world.worker.key;
    case 'role':
      return world.keys[t.value];
  }
}

/** The request a case sends: one bad element chosen by `badness`, the rest as plausible as possible. */
export function requestOf(world: ReliabilityWorld, c: BadCase): { method: string; url: string; opts: CallOptions } {
  const route = ROUTES[c.route]!;
  // GET and DELETE read no body: a bad body there would be no bad input at all, so the query is bad instead.
  const badness = (route.method === 'GET' || route.method === 'DELETE') && (c.badness === 'malformed' || c.badness === 'wrong-json') ? 'query' : c.badness;
  c = { ...c, badness };
  const url = route.path.replace(/\{([\w+]+)\}/g, (_m, param: string) => (c.badness === 'segment' ? c.segment : realSegment(world, c.workspace, route.path, param)));
  const token = c.badness === 'token' ? (c.token.kind === 'role' ? 'Token ' + world.keys[c.token.value] : (tokenValue(world, c.token) ?? 'x')) : tokenValue(world, c.token.kind === 'role' ? c.token : { kind: 'role', value: 'admin' });
  const opts: CallOptions = { token };
  if (c.badness === 'malformed') opts.rawBody = c.malformed;
  else if (c.badness === 'wrong-json') opts.body = c.body;
  else if (c.badness === 'header') opts.headers = c.headers as Record<string, string>;
  const query = c.badness === 'query' ? `?${c.query}` : '';
  return { method: route.method, url: `${url}${query}`, opts };
}

const describe = (r: { method: string; url: string; opts: CallOptions }) =>
  `${r.method} ${r.url.slice(0, 200)} ${JSON.stringify({ ...r.opts, rawBody: typeof r.opts.rawBody === 'string' ? r.opts.rawBody.slice(0, 100) : undefined, body: JSON.stringify(r.opts.body)?.slice(0, 200) })}`;

export async function runBadInputs(cases: number, seed = 20261206): Promise<BadInputResult> {
  const started = Date.now();
  const samples = fc.sample(caseArb, { numRuns: cases, seed });
  const result: BadInputResult = { cases, seed, routes: ROUTES.length, routesHit: 0, serverErrors: [], changesAfterRefusal: [], accepted: 0, byStatus: {}, seconds: 0 };
  const hit = new Set<number>();
  let world = await createReliabilityWorld();
  let before = snapshotOf(world.deps);
  for (const c of samples) {
    hit.add(c.route);
    const req = requestOf(world, c);
    let status: number;
    let body = '';
    try {
      const res = await world.http(req.method, req.url, req.opts);
      status = res.status;
      body = res.body;
    } catch (err) {
      status = 599; // the handler threw instead of answering: as bad as a 5xx
      body = String((err as Error).stack ?? err);
    }
    result.byStatus[String(status)] = (result.byStatus[String(status)] ?? 0) + 1;
    if (status >= 500) result.serverErrors.push({ request: describe(req), status, body: body.slice(0, 500) });
    const after = snapshotOf(world.deps);
    if (after !== before) {
      if (status >= 400) result.changesAfterRefusal.push({ request: describe(req), status });
      // Accepted requests may change things; a refused one that did is reported above. Start clean.
      world = await createReliabilityWorld();
      before = snapshotOf(world.deps);
    }
    if (status < 400) result.accepted++;
  }
  result.routesHit = hit.size;
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
