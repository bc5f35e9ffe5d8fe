/**
 * The ListParts / AbortMultipartUpload shim for s3rver, on an s3rver of its own (in-process, random port,
 * temporary directory), so it is tested whatever the global setup does.
 */
import { ListPartsCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { S3FileStore } from '../../shared/adapters/s3/file-store';
import { installS3rverMultipartShims, type S3rverLike } from '../../shared/adapters/s3/s3rver-shims';
import { NotFoundError } from '../../shared/domain/errors';

jest.setTimeout(30_000);

interface S3rverServer extends S3rverLike {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverServer;

const bucket = 'shim-test';
let dir: string;
let server: S3rverServer;
let s3: S3Client;
let files: S3FileStore;

async function start(withShim: boolean): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'conveyor-s3rver-'));
  server = new (S3rver as unknown as S3rverCtor)({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
  if (withShim) installS3rverMultipartShims(server);
  const { port } = await server.run();
  s3 = new S3Client({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  files = new S3FileStore(s3, bucket, { verifyMode: 'readback' });
}

async function stop(): Promise<void> {
  s3.destroy();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}

async function uploadParts(key: string, uploadId: string, parts: Buffer[]): Promise<void> {
  for (const [i, part] of parts.entries()) {
    const url = await files.presignUploadPart(key, uploadId, i + 1, part.length, 60);
    const res = await fetch(url, { method: 'PUT', body: part });
    expect(res.status).toBe(200);
  }
}

describe('with the shim', () => {
  beforeAll(() => start(true));
  afterAll(() => stop());

  it('lists parts page by page, with MD5 ETags and sizes', async () => {
    const key = 'dir/with space/ü.bin';
    const uploadId = await files.createMultipartUpload(key);
    await uploadParts(key, uploadId, [Buffer.from('aaa'), Buffer.from('bb'), Buffer.from('c')]);

    const page1 = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MaxParts: 2 }));
    expect(page1.IsTruncated).toBe(true);
    expect(page1.NextPartNumberMarker).toBe('2');
    expect(page1.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[1, 3], [2, 2]]);
    expect(page1.Parts?.[0]?.ETag).toBe('"47bce5c74f589f4867dbd57e9ca9f808"'); // md5("aaa")
    const page2 = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MaxParts: 2, PartNumberMarker: '2' }));
    expect(page2.IsTruncated).toBe(false);
    expect(page2.Parts?.map((p) => p.PartNumber)).toEqual([3]);

    const parts = await files.listUploadedParts(key, uploadId);
    expect(parts.map((p) => p.size)).toEqual([3, 2, 1]);
    await files.completeMultipartUpload(key, uploadId, parts);
    const chunks: Buffer[] = [];
    for await (const c of await files.getStream(key)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('aaabbc');
    // a completed upload is gone
    await expect(files.listUploadedParts(key, uploadId)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses an upload id under another key, and unknown or malformed ids', async () => {
    const uploadId = await files.createMultipartUpload('one');
    await expect(files.listUploadedParts('two', uploadId)).rejects.toBeInstanceOf(NotFoundError);
    await expect(files.listUploadedParts('one', 'deadbeef')).rejects.toBeInstanceOf(NotFoundError);
    await expect(files.listUploadedParts('one', '../../etc')).rejects.toBeInstanceOf(NotFoundError);
    await expect(files.listUploadedParts('one', uploadId)).resolves.toEqual([]);
  });

  it('aborts an upload', async () => {
    const uploadId = await files.createMultipartUpload('to-abort');
    await uploadParts('to-abort', uploadId, [Buffer.from('x')]);
    await files.abortMultipartUpload('to-abort', uploadId);
    await expect(files.listUploadedParts('to-abort', uploadId)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('leaves every other request to s3rver', async () => {
    await files.put('plain', Buffer.from('plain'));
    await expect(files.head('plain')).resolves.toMatchObject({ size: 5 });
    await files.delete('plain');
    await expect(files.head('plain')).resolves.toBeUndefined();
  });
});

describe('without the shim', () => {
  beforeAll(() => start(false));
  afterAll(() => stop());

  it('s3rver cannot list parts, and the store says why', async () => {
    const uploadId = await files.createMultipartUpload('k');
    await expect(files.listUploadedParts('k', uploadId)).rejects.toThrow(/does not implement ListParts/);
  });
});
