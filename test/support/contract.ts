/**
 * The HTTP contract tables, run twice: in-process against the memory fakes (unit) and over
 * real HTTP against the local stack (e2e). Same cases, same expectations.
 */
import { sha256 } from './world';

export interface ClientResponse {
  status: number;
  headers: Record<string, string>;
  json: any;
}
export type Client = (
  method: string,
  url: string,
  opts?: { token?: string; body?: unknown; rawBody?: Buffer; headers?: Record<string, string> },
) => Promise<ClientResponse>;

export const ACTORS = ['anonymous', 'outsider', 'viewer', 'uploader', 'contributor', 'owner'] as const;
export type Actor = (typeof ACTORS)[number];
export const OPERATIONS = ['read', 'create', 'modify', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];

/**
 * Expected status for an actor doing an operation in a workspace, on an artifact made by
 * someone else (`uploader2`). Anonymous writes stop at authentication (401) before any
 * lookup, so they reveal nothing either.
 */
export function expectedStatus(actor: Actor, workspace: 'pub' | 'priv', op: Operation): number {
  const ok = { read: 200, create: 201, modify: 200, delete: 204 }[op];
  if (actor === 'anonymous') return op === 'read' ? (workspace === 'pub' ? 200 : 404) : 401;
  if (actor === 'outsider' && workspace === 'priv') return 404;
  if (op === 'read') return ok;
  if (op === 'create') return ['uploader', 'contributor', 'owner'].includes(actor) ? ok : 403;
  return ['contributor', 'owner'].includes(actor) ? ok : 403;
}

export const permissionCases = ACTORS.flatMap((actor) =>
  (['pub', 'priv'] as const).flatMap((workspace) => OPERATIONS.map((op) => ({ actor, workspace, op, expected: expectedStatus(actor, workspace, op) }))),
);

export async function createBy(client: Client, token: string, workspace: string, files: Record<string, string> = {}) {
  const res = await client('POST', '/api/1.0/artifact/', {
    token,
    body: {
      category: 'testing',
      workspace,
      data: {},
      files: Object.fromEntries(Object.entries(files).map(([p, c]) => [p, { type: 'file', size: Buffer.byteLength(c), checksums: { sha256: sha256(c) } }])),
    },
  });
  if (res.status !== 201) throw new Error(`setup: create answered ${res.status} ${JSON.stringify(res.json)}`);
  return res.json.id as number;
}

export async function runPermissionCase(
  client: Client,
  keys: Record<string, string>,
  c: (typeof permissionCases)[number],
): Promise<number> {
  const token = c.actor === 'anonymous' ? undefined : keys[c.actor];
  if (c.op === 'create') {
    const res = await client('POST', '/api/1.0/artifact/', { token, body: { category: 'testing', workspace: c.workspace, data: {}, files: {} } });
    return res.status;
  }
  const id = await createBy(client, keys['uploader2']!, c.workspace);
  const url = `/api/1.0/artifact/${id}/`;
  const res =
    c.op === 'read'
      ? await client('GET', url, { token })
      : c.op === 'modify'
        ? await client('PATCH', url, { token, body: { data: { touched: true } } })
        : await client('DELETE', url, { token });
  return res.status;
}

export interface BadInputCase {
  name: string;
  status: number;
  /** A field that validation_errors must name, when the error is about one field. */
  field?: string;
  request: (ctx: { artifactId: number; keys: Record<string, string> }) => {
    method: string;
    url: string;
    token?: string;
    body?: unknown;
    rawBody?: Buffer;
    headers?: Record<string, string>;
  };
}

const file = (content: string) => ({ type: 'file', size: Buffer.byteLength(content), checksums: { sha256: sha256(content) } });
const createBody = (files: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  category: 'testing',
  workspace: 'priv',
  data: {},
  files,
  ...extra,
});

/** Every bad input the issue names, with the status it must get. `artifactId` has one incomplete file `f` of 10 bytes. */
export const badInputCases: BadInputCase[] = [
  { name: 'malformed JSON', status: 400, field: '(body)', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: '{"category": ' }) },
  { name: 'body that is not JSON', status: 415, request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: 'category=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }) },
  { name: 'unknown field', status: 400, field: 'colour', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({}, { colour: 'red' }) }) },
  { name: 'unknown field in a file', status: 400, field: 'files.a.mode', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({ a: { ...file('x'), mode: 755 } }) }) },
  { name: 'missing category', status: 400, field: 'category', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: { workspace: 'priv', files: {} } }) },
  { name: 'wrong type for size', status: 400, field: 'files.a.size', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({ a: { ...file('x'), size: 'ten' } }) }) },
  { name: 'wrong type for data', status: 400, field: 'data', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({}, { data: [1, 2] }) }) },
  { name: 'path with ..', status: 400, field: 'files.../etc/passwd', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({ '../etc/passwd': file('x') }) }) },
  { name: 'path with a leading /', status: 400, field: 'files./etc/passwd', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({ '/etc/passwd': file('x') }) }) },
  { name: 'path with NUL', status: 400, field: 'files.a\\0b', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({ 'a\u0000b': file('x') }) }) },
  { name: 'path over 500 characters', status: 400, request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({ ['p'.repeat(501)]: file('x') }) }) },
  { name: 'checksum that is not SHA-256', status: 400, field: 'files.a.checksums.sha256', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({ a: { ...file('x'), checksums: { sha256: 'abc' } } }) }) },
  { name: 'negative size', status: 400, field: 'files.a.size', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({ a: { ...file('x'), size: -1 } }) }) },
  { name: 'bad category', status: 400, field: 'category', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({}, { category: 'not a category' }) }) },
  { name: 'expire_at in the past', status: 400, field: 'expire_at', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({}, { expire_at: '2001-01-01T00:00:00+00:00' }) }) },
  { name: 'malformed expire_at', status: 400, field: 'expire_at', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({}, { expire_at: 'next week' }) }) },
  { name: 'bad expiration delay', status: 400, field: 'expiration_delay', request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({}, { expiration_delay: 'soon' }) }) },
  { name: 'ranged upload with a size that does not match', status: 400, field: 'Content-Range', request: ({ keys, artifactId }) => ({ method: 'PUT', url: `/api/1.0/artifact/${artifactId}/files/f/`, token: keys['contributor'], headers: { 'content-range': 'bytes */11' } }) },
  { name: 'ranged upload beyond the size', status: 400, field: 'Content-Range', request: ({ keys, artifactId }) => ({ method: 'PUT', url: `/api/1.0/artifact/${artifactId}/files/f/`, token: keys['contributor'], headers: { 'content-range': 'bytes 0-10/10' }, rawBody: Buffer.alloc(11) }) },
  { name: 'ranged upload not continuing where it stands', status: 400, field: 'Content-Range', request: ({ keys, artifactId }) => ({ method: 'PUT', url: `/api/1.0/artifact/${artifactId}/files/f/`, token: keys['contributor'], headers: { 'content-range': 'bytes 5-9/10' }, rawBody: Buffer.alloc(5) }) },
  { name: 'ranged upload with a malformed Content-Range', status: 400, field: 'Content-Range', request: ({ keys, artifactId }) => ({ method: 'PUT', url: `/api/1.0/artifact/${artifactId}/files/f/`, token: keys['contributor'], headers: { 'content-range': 'lots' }, rawBody: Buffer.alloc(5) }) },
  { name: 'ranged upload whose bytes do not match the checksum', status: 409, request: ({ keys, artifactId }) => ({ method: 'PUT', url: `/api/1.0/artifact/${artifactId}/files/f/`, token: keys['contributor'], headers: { 'content-range': 'bytes 0-9/10' }, rawBody: Buffer.from('0123456789') }) },
  { name: 'completing an upload that never started', status: 409, request: ({ keys, artifactId }) => ({ method: 'POST', url: `/api/1.0/artifact/${artifactId}/upload-complete/f/`, token: keys['contributor'], body: {} }) },
  { name: 'upload of a file the artifact lacks', status: 404, request: ({ keys, artifactId }) => ({ method: 'POST', url: `/api/1.0/artifact/${artifactId}/upload/nope/`, token: keys['contributor'], body: {} }) },
  { name: 'unknown artifact', status: 404, request: ({ keys }) => ({ method: 'GET', url: '/api/1.0/artifact/999999/', token: keys['contributor'] }) },
  { name: 'artifact id that is not a number', status: 400, field: 'id', request: ({ keys }) => ({ method: 'GET', url: '/api/1.0/artifact/abc/', token: keys['contributor'] }) },
  { name: 'no token for a write', status: 401, request: () => ({ method: 'POST', url: '/api/1.0/artifact/', body: createBody({}) }) },
  { name: 'unknown token', status: 403, request: () => ({ method: 'GET', url: '/api/1.0/whoami/', token: 'f'.repeat(64) }) },
  { name: 'disabled token', status: 403, request: ({ keys }) => ({ method: 'GET', url: '/api/1.0/whoami/', token: keys['disabled'] }) },
  { name: 'private workspace for a non-member', status: 404, request: ({ keys, artifactId }) => ({ method: 'GET', url: `/api/1.0/artifact/${artifactId}/`, token: keys['outsider'] }) },
  { name: 'private workspace listing for a non-member', status: 404, request: ({ keys }) => ({ method: 'GET', url: '/api/1.0/artifact/?workspace=priv', token: keys['outsider'] }) },
  { name: 'too low a role', status: 403, request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['viewer'], body: createBody({}) }) },
  { name: 'oversized body', status: 413, request: ({ keys }) => ({ method: 'POST', url: '/api/1.0/artifact/', token: keys['contributor'], body: createBody({}, { data: { blob: 'x'.repeat(1_100_000) } }) }) },
  { name: 'relation of an unknown type', status: 400, field: 'type', request: ({ keys, artifactId }) => ({ method: 'POST', url: '/api/1.0/artifact-relation/', token: keys['contributor'], body: { artifact: artifactId, target: artifactId, type: 'likes' } }) },
  { name: 'relation list without a filter', status: 400, request: ({ keys }) => ({ method: 'GET', url: '/api/1.0/artifact-relation/', token: keys['contributor'] }) },
  { name: 'list with a forged cursor', status: 400, field: 'cursor', request: ({ keys }) => ({ method: 'GET', url: '/api/1.0/artifact/?workspace=priv&cursor=bm9wZQ', token: keys['contributor'] }) },
  { name: 'list with a limit out of range', status: 400, field: 'limit', request: ({ keys }) => ({ method: 'GET', url: '/api/1.0/artifact/?workspace=priv&limit=0', token: keys['contributor'] }) },
  { name: 'patch with nothing to change', status: 400, request: ({ keys, artifactId }) => ({ method: 'PATCH', url: `/api/1.0/artifact/${artifactId}/`, token: keys['contributor'], body: {} }) },
];

/** Sets up the artifact the bad-input cases aim at: one incomplete 10-byte file `f` in `priv`. */
export async function badInputTarget(client: Client, keys: Record<string, string>): Promise<number> {
  return createBy(client, keys['contributor']!, 'priv', { f: 'abcdefghij' });
}
