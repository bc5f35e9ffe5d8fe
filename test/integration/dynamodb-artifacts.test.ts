/**
 * DynamoArtifactRepository against DynamoDB Local (started by test/integration/global-setup.ts,
 * which provisions the tables from TABLES and sets the CONVEYOR_TABLE_* and AWS_* variables).
 * The table is shared: every test uses its own artifact ids and workspace names.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoArtifactRepository } from '../../shared/adapters/dynamodb/artifact-repository';
import type { Artifact, ArtifactRelation } from '../../shared/domain/artifacts';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/domain/errors';
import type { StoredFile, VerifiedUpload } from '../../shared/ports';

const table = process.env.CONVEYOR_TABLE_MAIN!;
// Default marshalling (no removeUndefinedValues): the adapter must strip undefined itself.
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const repo = new DynamoArtifactRepository(doc, table);

afterAll(() => doc.destroy());
// Complete files now store their blobs first (claim + mark per blob): more requests per test.
jest.setTimeout(30_000);

let nextId = Math.floor(Math.random() * 1e9) * 1000;
const newId = () => ++nextId;
const newWorkspace = () => `ws-${randomUUID().slice(0, 8)}`;
const sha = () => randomBytes(32).toString('hex');

function artifactOf(overrides: Partial<Artifact> = {}): Artifact {
  return {
    id: newId(),
    scope: 'debusine',
    workspace: 'System',
    category: 'debian:source-package',
    data: { name: 'hello', nested: { list: [1, 'two', null, { deep: true }], big: 12345678901234567890, empty: '' } },
    createdAt: '2026-11-22T10:00:00.000Z',
    updatedAt: '2026-11-22T10:00:00.000Z',
    createdBy: 'user:alice',
    expireAt: null,
    immutable: false,
    incompleteFiles: 0,
    version: 1,
    ...overrides,
  };
}

/** A file row; a complete one's bytes are stored first (claimed, copied, marked), as uploads do. */
function fileOf(path: string, complete: boolean, extra: Partial<StoredFile> = {}): StoredFile {
  return { path, sha256: sha(), size: 10 + path.length, complete, ...(complete ? {} : { upload: { key: `staging/${path}` } }), ...extra };
}

/** What completeFile is conditioned on: the file as verified. */
function verified(f: StoredFile, uploadKey = f.upload?.key ?? `staging/${f.path}`): VerifiedUpload {
  return { sha256: f.sha256, size: f.size, uploadKey };
}

/**
 * Marks the bytes of every file stored: complete files need them, and completing a file later is
 * conditional on its bytes being stored at that moment (an expiry sweep may be taking them).
 */
async function storeBlobsOf(files: StoredFile[]): Promise<void> {
  const at = '2026-11-22T10:00:00.000Z';
  await Promise.all(
    files
      .map(async (f) => {
        if ((await repo.claimBlobForUpload(f.sha256, f.size, at)) === 'claim') await repo.markBlobStored(f.sha256, f.size, at);
      }),
  );
}

/** Creates an artifact whose incomplete count matches its files. */
async function created(files: StoredFile[] = [], overrides: Partial<Artifact> = {}): Promise<Artifact> {
  const artifact = artifactOf({ incompleteFiles: files.filter((f) => !f.complete).length, ...overrides });
  await storeBlobsOf(files);
  await repo.create(artifact, files);
  return artifact;
}

describe('create and get', () => {
  test('round-trips the artifact and every field of its files', async () => {
    const files: StoredFile[] = [
      fileOf('src/hello.c', true, { contentType: 'text/x-c' }),
      fileOf('hello.dsc', false, {
        upload: { key: 'staging/x', multipartUploadId: 'mp-1', rangedReceived: 5, rangedChunks: ['c1', 'c2'], verifying: true, lastError: 'bad' },
      }),
      fileOf('empty', true, { size: 0, contentType: undefined }),
    ];
    const artifact = await created(files, { expireAt: '2027-01-01T00:00:00.000Z', immutable: true });
    const got = await repo.get(artifact.id);
    expect(got).toEqual({ artifact, files: [...files].sort((a, b) => (a.path < b.path ? -1 : 1)) });
    expect(got!.artifact.data).toStrictEqual(artifact.data);
    expect(got!.files.find((f) => f.path === 'empty')).not.toHaveProperty('contentType');
  });

  test('a missing artifact is undefined, and relations do not show up as files', async () => {
    expect(await repo.get(newId())).toBeUndefined();
    const a = await created([fileOf('f', true)]);
    const b = await created();
    await repo.createRelation({ id: newId(), artifact: a.id, target: b.id, type: 'relates-to', createdAt: a.createdAt });
    expect((await repo.get(a.id))!.files.map((f) => f.path)).toEqual(['f']);
  });

  test('a second create with the same id is a ConflictError and changes nothing', async () => {
    const a = await created([fileOf('one', true)]);
    await expect(repo.create({ ...a, category: 'other:thing' }, [fileOf('two', true)])).rejects.toBeInstanceOf(ConflictError);
    const got = await repo.get(a.id);
    expect(got!.artifact.category).toBe('debian:source-package');
    expect(got!.files.map((f) => f.path)).toEqual(['one']);
  });

  test('more than 99 files are written in several transactions, the artifact last', async () => {
    // The complete ones hold the same bytes: one blob to store first, one claim check.
    const bytes = sha();
    const files = Array.from({ length: 230 }, (_, i) => fileOf(`dir/file-${String(i).padStart(3, '0')}`, i % 3 !== 0, { sha256: bytes, size: 42 }));
    const a = await created(files);
    const got = await repo.get(a.id);
    expect(got!.files).toHaveLength(230);
    expect(got!.artifact.incompleteFiles).toBe(files.filter((f) => !f.complete).length);
    // and the existence guard holds on that path too
    await expect(repo.create(a, files)).rejects.toBeInstanceOf(ConflictError);
  }, 120_000); // 230 rows: slow on a busy machine

  test('refuses more than 10,000 files and duplicate paths', async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => fileOf(`f${i}`, true));
    await expect(repo.create(artifactOf(), many)).rejects.toBeInstanceOf(ValidationError);
    await expect(repo.create(artifactOf(), [fileOf('same', true), fileOf('same', true)])).rejects.toBeInstanceOf(ValidationError);
  });

  test('a path too long for a sort key is stored and found', async () => {
    const path = `${'日本'.repeat(200)}/file`; // 1,600+ bytes of UTF-8
    const f = fileOf(path, false);
    const a = await created([f]);
    expect(await repo.completeFile(a.id, path, '2026-11-22T11:00:00.000Z', verified(f))).toBe(true);
    expect((await repo.get(a.id))!.files[0]).toMatchObject({ path, complete: true });
  });
});

describe('list', () => {
  async function listAll(filter: { workspace: string; category?: string; createdBy?: string }, limit: number) {
    const pages: number[][] = [];
    let cursor: string | undefined;
    do {
      const page = await repo.list({ scope: 'debusine', limit, cursor, ...filter });
      pages.push(page.items.map((a) => a.id));
      cursor = page.next;
    } while (cursor && pages.length < 50);
    return pages;
  }

  test('newest first, with a cursor, by category and by creator', async () => {
    const workspace = newWorkspace();
    const made: Artifact[] = [];
    for (let i = 0; i < 7; i++) {
      made.push(
        await created([], {
          workspace,
          category: i % 2 ? 'debian:binary-package' : 'debian:source-package',
          createdBy: i % 3 ? 'user:alice' : 'user:bob',
          createdAt: `2026-11-2${i}T08:00:00.000Z`,
        }),
      );
    }
    const newestFirst = [...made].reverse();
    const ids = (xs: Artifact[]) => xs.map((a) => a.id);

    expect(await listAll({ workspace }, 3)).toEqual([ids(newestFirst.slice(0, 3)), ids(newestFirst.slice(3, 6)), ids(newestFirst.slice(6))]);
    // exactly full last page: no cursor, no empty extra page
    expect(await listAll({ workspace }, 7)).toEqual([ids(newestFirst)]);

    const binaries = newestFirst.filter((a) => a.category === 'debian:binary-package');
    expect((await listAll({ workspace, category: 'debian:binary-package' }, 2)).flat()).toEqual(ids(binaries));

    const bobs = newestFirst.filter((a) => a.createdBy === 'user:bob');
    const bobPages = await listAll({ workspace, createdBy: 'user:bob' }, 2);
    expect(bobPages.flat()).toEqual(ids(bobs));
    expect(bobPages.every((p) => p.length <= 2)).toBe(true);

    const both = newestFirst.filter((a) => a.createdBy === 'user:alice' && a.category === 'debian:source-package');
    expect((await listAll({ workspace, category: 'debian:source-package', createdBy: 'user:alice' }, 1)).flat()).toEqual(ids(both));

    expect(await repo.list({ scope: 'debusine', workspace: newWorkspace(), limit: 5 })).toEqual({ items: [] });
  });

  test('a selective createdBy filter reads on past full index pages to fill the page', async () => {
    const workspace = newWorkspace();
    const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
    const bobs: Artifact[] = [];
    for (let i = 0; i < 3; i++) bobs.push(await created([], { workspace, createdBy: 'user:bob', createdAt: at(i) }));
    for (let batch = 0; batch < 11; batch++) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => created([], { workspace, createdAt: at(10 + batch * 10 + j) })));
    }
    const first = await repo.list({ scope: 'debusine', workspace, createdBy: 'user:bob', limit: 2 });
    expect(first.items.map((a) => a.id)).toEqual([bobs[2]!.id, bobs[1]!.id]);
    const second = await repo.list({ scope: 'debusine', workspace, createdBy: 'user:bob', limit: 2, cursor: first.next });
    expect(second).toEqual({ items: [bobs[0]] });
  });

  test('listed artifacts are complete domain objects', async () => {
    const workspace = newWorkspace();
    const a = await created([fileOf('x', false)], { workspace, expireAt: '2030-01-01T00:00:00.000Z' });
    expect((await repo.list({ scope: 'debusine', workspace, limit: 10 })).items).toEqual([a]);
  });

  test('a malformed or foreign cursor is a ValidationError on `cursor`', async () => {
    const workspace = newWorkspace();
    await created([], { workspace });
    await created([], { workspace });
    const page = await repo.list({ scope: 'debusine', workspace, limit: 1 });
    expect(page.next).toBeDefined();
    for (const cursor of ['not a cursor', 'e30', Buffer.from('[1]').toString('base64url')]) {
      await expect(repo.list({ scope: 'debusine', workspace, limit: 1, cursor })).rejects.toMatchObject({
        fieldErrors: { cursor: expect.any(Array) },
      });
    }
    await expect(repo.list({ scope: 'debusine', workspace: newWorkspace(), limit: 1, cursor: page.next })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('update', () => {
  test('bumps the version; a stale version is a ConflictError', async () => {
    const a = await created();
    const next = { ...a, data: { changed: true }, updatedAt: '2026-11-22T12:00:00.000Z', version: 2 };
    await repo.update(next, 1);
    expect((await repo.get(a.id))!.artifact).toEqual(next);
    await expect(repo.update({ ...next, data: { lost: true } }, 1)).rejects.toThrow(ConflictError);
    expect((await repo.get(a.id))!.artifact.data).toEqual({ changed: true });
  });

  test('may make the artifact immutable; after that every change is a ConflictError', async () => {
    const a = await created([fileOf('keep', true)]);
    await repo.update({ ...a, immutable: true, version: 2 }, 1);
    const frozen = (await repo.get(a.id))!.artifact;
    expect(frozen).toMatchObject({ immutable: true, version: 2 });
    await expect(repo.update({ ...frozen, data: { x: 1 }, version: 3 }, 2)).rejects.toThrow(/immutable/);
    await expect(repo.attachFile({ ...frozen, version: 3 }, 2, fileOf('new', true))).rejects.toThrow(/immutable/);
    await expect(repo.removeFile({ ...frozen, version: 3 }, 2, (await repo.get(a.id))!.files[0]!)).rejects.toBeInstanceOf(ConflictError);
    await expect(repo.delete(frozen)).rejects.toBeInstanceOf(ConflictError);
    expect((await repo.get(a.id))!).toMatchObject({ artifact: frozen, files: [{ path: 'keep' }] });
  });

  test('of a missing artifact is a NotFoundError', async () => {
    await expect(repo.update(artifactOf(), 1)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('files', () => {
  test('attach and remove keep the version and incomplete count in step', async () => {
    const a = await created();
    const pending = fileOf('pending.deb', false);
    await repo.attachFile({ ...a, version: 2 }, 1, pending);
    await repo.attachFile({ ...a, version: 3 }, 2, fileOf('done.deb', true));
    let got = (await repo.get(a.id))!;
    expect(got.artifact).toMatchObject({ version: 3, incompleteFiles: 1 });
    expect(got.files.map((f) => f.path)).toEqual(['done.deb', 'pending.deb']);

    await expect(repo.attachFile({ ...a, version: 4 }, 3, fileOf('pending.deb', true))).rejects.toThrow(/already has a file/);
    await expect(repo.attachFile({ ...a, version: 4 }, 2, fileOf('other', true))).rejects.toThrow(/expected version 2, found 3/);

    await repo.removeFile({ ...a, version: 4 }, 3, pending);
    got = (await repo.get(a.id))!;
    expect(got.artifact).toMatchObject({ version: 4, incompleteFiles: 0 });
    expect(got.files.map((f) => f.path)).toEqual(['done.deb']);
    await expect(repo.removeFile({ ...a, version: 5 }, 4, pending)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('remove refuses a file that was completed since it was read', async () => {
    const f = fileOf('f', false);
    const a = await created([f]);
    await repo.completeFile(a.id, 'f', '2026-11-22T10:00:00.000Z', verified(f));
    await expect(repo.removeFile({ ...a, version: 2 }, 1, f)).rejects.toThrow(/completed meanwhile/);
    expect((await repo.get(a.id))!.artifact).toMatchObject({ version: 1, incompleteFiles: 0 });
  });

  test('completeFile: concurrent calls complete a file exactly once', async () => {
    for (let round = 0; round < 4; round++) {
      const fa = fileOf('a', false);
      const a = await created([fa, fileOf('b', false)]);
      const results = await Promise.all([
        repo.completeFile(a.id, 'a', '2026-11-22T10:00:00.000Z', verified(fa)),
        repo.completeFile(a.id, 'a', '2026-11-22T10:00:00.001Z', verified(fa)),
        repo.completeFile(a.id, 'a', '2026-11-22T10:00:00.002Z', verified(fa)),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const got = (await repo.get(a.id))!;
      expect(got.artifact.incompleteFiles).toBe(1);
      expect(got.files.find((f) => f.path === 'a')!.complete).toBe(true);
    }
  });

  test('completeFile of a missing file or artifact is a NotFoundError', async () => {
    const fa = fileOf('a', false);
    const a = await created([fa]);
    await expect(repo.completeFile(a.id, 'nope', '2026-11-22T10:00:00.000Z', verified(fa))).rejects.toBeInstanceOf(NotFoundError);
    await expect(repo.completeFile(newId(), 'a', '2026-11-22T10:00:00.000Z', verified(fa))).rejects.toBeInstanceOf(NotFoundError);
  });

  test('completeFile leaves alone a row deleted and attached again with other bytes or another upload (security finding 1)', async () => {
    const junk = fileOf('P', false, { upload: { key: 'staging/junk', verifying: true } });
    const a = await created([junk]);
    // While the junk is verified, the uploader deletes P and attaches it again declaring a victim's SHA-256.
    await repo.removeFile({ ...a, version: 2, incompleteFiles: 0 }, 1, junk);
    const victim = { ...fileOf('P', false), sha256: sha(), size: junk.size };
    await repo.attachFile({ ...a, version: 3, incompleteFiles: 1 }, 2, victim);
    expect(await repo.completeFile(a.id, 'P', '2026-11-22T10:00:00.000Z', verified(junk))).toBe(false);
    // Same declared bytes but another upload in progress is not the verified row either.
    await repo.removeFile({ ...a, version: 4, incompleteFiles: 0 }, 3, victim);
    await repo.attachFile({ ...a, version: 5, incompleteFiles: 1 }, 4, { ...junk, upload: { key: 'staging/other' } });
    expect(await repo.completeFile(a.id, 'P', '2026-11-22T10:00:00.000Z', verified(junk))).toBe(false);
    const got = (await repo.get(a.id))!;
    expect(got.files[0]).toMatchObject({ complete: false });
    expect(got.artifact.incompleteFiles).toBe(1);
  });

  test('setUploadState sets and removes the state of an incomplete file only', async () => {
    const up = fileOf('up', false);
    const a = await created([up, fileOf('done', true)]);
    await repo.setUploadState(a.id, 'up', { key: 'k', rangedChunks: [], rangedReceived: 0, verifying: undefined });
    expect((await repo.get(a.id))!.files.find((f) => f.path === 'up')!.upload).toEqual({ key: 'k', rangedChunks: [], rangedReceived: 0 });
    await repo.setUploadState(a.id, 'up', undefined);
    expect((await repo.get(a.id))!.files.find((f) => f.path === 'up')).not.toHaveProperty('upload');
    await expect(repo.setUploadState(a.id, 'done', { key: 'k' })).rejects.toBeInstanceOf(ConflictError);
    await expect(repo.setUploadState(a.id, 'missing', { key: 'k' })).rejects.toBeInstanceOf(NotFoundError);
    // completion drops the upload state
    await repo.setUploadState(a.id, 'up', { key: 'k2', verifying: true });
    await repo.completeFile(a.id, 'up', '2026-11-22T10:00:00.000Z', verified(up, 'k2'));
    expect((await repo.get(a.id))!.files.find((f) => f.path === 'up')).toEqual(expect.not.objectContaining({ upload: expect.anything() }));
  });
});

describe('blobs', () => {
  test('blobVisibleInWorkspace is true only in a workspace holding a complete file with those bytes', async () => {
    const w1 = newWorkspace();
    const w2 = newWorkspace();
    const f = fileOf('x', false);
    const a = await created([f], { workspace: w1 });
    await created([{ ...f, path: 'y' }], { workspace: w2 }); // same bytes, incomplete in w2
    expect(await repo.blobVisibleInWorkspace('debusine', w1, f.sha256, f.size)).toBe(false);
    await repo.completeFile(a.id, 'x', '2026-11-22T10:00:00.000Z', verified(f));
    expect(await repo.blobVisibleInWorkspace('debusine', w1, f.sha256, f.size)).toBe(true);
    expect(await repo.blobVisibleInWorkspace('debusine', w2, f.sha256, f.size)).toBe(false);
    expect(await repo.blobVisibleInWorkspace('debusine', w1, f.sha256, f.size + 1)).toBe(false);
    expect(await repo.blobVisibleInWorkspace('other-scope', w1, f.sha256, f.size)).toBe(false);

    const b = await created([{ ...f, path: 'z', complete: true }], { workspace: w2 });
    expect(await repo.blobVisibleInWorkspace('debusine', w2, f.sha256, f.size)).toBe(true);
    await repo.delete(b);
    expect(await repo.blobVisibleInWorkspace('debusine', w2, f.sha256, f.size)).toBe(false);
  });

  test('a complete row whose artifact is gone does not make bytes visible', async () => {
    const workspace = newWorkspace();
    const f = fileOf('x', true);
    const a = await created([f], { workspace });
    // simulate a crash after the artifact item was deleted, before its rows were
    const { DeleteCommand } = await import('@aws-sdk/lib-dynamodb');
    await doc.send(new DeleteCommand({ TableName: table, Key: { pk: `ART#${a.id}`, sk: 'A' } }));
    expect(await repo.blobVisibleInWorkspace('debusine', workspace, f.sha256, f.size)).toBe(false);
  });

  test('the blob registry', async () => {
    const s = sha();
    expect(await repo.isBlobStored(s, 3)).toBe(false);
    // marking stored needs a claim first (shared/domain/blob-gc.ts)
    await repo.markBlobStored(s, 3, '2026-11-21T10:00:00.000Z');
    expect(await repo.isBlobStored(s, 3)).toBe(false);
    expect(await repo.claimBlobForUpload(s, 3, '2026-11-22T09:00:00.000Z')).toBe('claim');
    expect(await repo.isBlobStored(s, 3)).toBe(false); // claimed, bytes not copied yet
    await repo.markBlobStored(s, 3, '2026-11-22T10:00:00.000Z');
    await repo.markBlobStored(s, 3, '2026-11-23T10:00:00.000Z');
    expect(await repo.claimBlobForUpload(s, 3, '2026-11-24T10:00:00.000Z')).toBe('already-stored');
    expect(await repo.isBlobStored(s, 3)).toBe(true);
    expect(await repo.isBlobStored(s, 4)).toBe(false);
    const item = await doc.send(new GetCommand({ TableName: table, Key: { pk: `BLOB#${s}-3`, sk: 'B' } }));
    expect(item.Item?.storedAt).toBe('2026-11-22T10:00:00.000Z');
  });
});

describe('relations', () => {
  const rel = (artifact: number, target: number, type: ArtifactRelation['type'] = 'built-using'): ArtifactRelation => ({
    id: newId(),
    artifact,
    target,
    type,
    createdAt: '2026-11-22T10:00:00.000Z',
  });

  test('created once, then returned as existing; listed both ways; got by id', async () => {
    const a = await created();
    const b = await created();
    const first = rel(a.id, b.id);
    expect(await repo.createRelation(first)).toEqual({ relation: first, created: true });
    expect(await repo.createRelation({ ...first, id: newId() })).toEqual({ relation: first, created: false });
    const other = rel(a.id, b.id, 'extends');
    expect((await repo.createRelation(other)).created).toBe(true);

    expect(await repo.getRelation(first.id)).toEqual(first);
    expect(await repo.getRelation(newId())).toBeUndefined();
    expect(await repo.listRelations({ artifact: a.id })).toEqual([first, other]);
    expect(await repo.listRelations({ target: b.id })).toEqual([first, other]);
    expect(await repo.listRelations({ artifact: b.id })).toEqual([]);

    expect(await repo.deleteRelation(first)).toBe(true);
    expect(await repo.deleteRelation(first)).toBe(false);
    expect(await repo.listRelations({ artifact: a.id })).toEqual([other]);
  });

  test('pages both ways in key order, one query of at most limit + 1 items each (finding 6)', async () => {
    const a = await created();
    const targets = [await created(), await created(), await created()];
    const relations = targets.flatMap((t) => [rel(a.id, t.id), rel(a.id, t.id, 'extends')]);
    for (const r of relations) await repo.createRelation(r);
    const limits: (number | undefined)[] = [];
    const send = doc.send.bind(doc);
    const spy = jest.spyOn(doc, 'send').mockImplementation(((command: unknown, ...rest: unknown[]) => {
      if (command instanceof QueryCommand) limits.push(command.input.Limit);
      return (send as (...args: unknown[]) => unknown)(command, ...rest);
    }) as typeof doc.send);
    try {
      const first = await repo.relationsPage({ artifact: a.id }, { limit: 4 });
      expect(first.items).toEqual(relations.slice(0, 4));
      const second = await repo.relationsPage({ artifact: a.id }, { limit: 4, cursor: first.next! });
      expect(second).toEqual({ items: relations.slice(4) });
      const after = await repo.relationsPage({ artifact: a.id }, { limit: 1, cursor: repo.relationCursorAfter(relations[2]!, { artifact: a.id }) });
      expect(after.items).toEqual([relations[3]]);
      expect(limits).toEqual([5, 5, 2]);
    } finally {
      spy.mockRestore();
    }
    // To one target, through the index (eventually consistent: DynamoDB Local answers at once).
    const to = await repo.relationsPage({ target: targets[0]!.id }, { limit: 1 });
    expect(to.items).toEqual([relations[0]]);
    expect((await repo.relationsPage({ target: targets[0]!.id }, { limit: 1, cursor: to.next! })).items).toEqual([relations[1]]);
  });

  test('to or from a missing artifact is a NotFoundError', async () => {
    const a = await created();
    await expect(repo.createRelation(rel(a.id, newId()))).rejects.toBeInstanceOf(NotFoundError);
    await expect(repo.createRelation(rel(newId(), a.id))).rejects.toBeInstanceOf(NotFoundError);
    expect(await repo.listRelations({ artifact: a.id })).toEqual([]);
  });

  test('delete removes the artifact, its files and every relation from or to it', async () => {
    const a = await created([fileOf('f1', true), fileOf('f2', false)]);
    const b = await created();
    const c = await created();
    await repo.createRelation(rel(a.id, b.id));
    await repo.createRelation(rel(c.id, a.id));
    const kept = rel(c.id, b.id);
    await repo.createRelation(kept);

    await expect(repo.delete({ ...a, version: 7 })).rejects.toBeInstanceOf(ConflictError);
    await repo.delete(a);
    expect(await repo.get(a.id)).toBeUndefined();
    const left = await doc.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `ART#${a.id}` } }));
    expect(left.Items).toEqual([]);
    expect(await repo.listRelations({ target: a.id })).toEqual([]);
    expect(await repo.listRelations({ artifact: c.id })).toEqual([kept]);
    await expect(repo.delete(a)).rejects.toBeInstanceOf(NotFoundError);
  });
});
