/**
 * S3FileStore against s3rver (started by the integration global setup, which sets CONVEYOR_BUCKET,
 * AWS_ENDPOINT_URL_S3, CONVEYOR_S3_FORCE_PATH_STYLE=1 and credentials). s3rver checks neither signatures
 * nor checksums, so the store runs in `readback` mode here, as in the local stack.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { NotFoundError } from '../../shared/domain/errors';
import { S3FileStore } from '../../shared/adapters/s3/file-store';

jest.setTimeout(30_000);

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: the integration global setup should set it`);
  return v;
}

const s3 = new S3Client({
  region: env('AWS_REGION'),
  endpoint: env('AWS_ENDPOINT_URL_S3'),
  forcePathStyle: process.env['CONVEYOR_S3_FORCE_PATH_STYLE'] === '1',
});
const files = new S3FileStore(s3, env('CONVEYOR_BUCKET'), { verifyMode: 'readback' });
const prefix = `it-s3/${randomUUID()}`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function presignedUpload(key: string, data: Buffer, declared: Buffer = data): Promise<Response> {
  const { url, headers } = await files.presignPut(key, declared.length, sha256(declared), 300);
  return fetch(url, { method: 'PUT', headers, body: data });
}

afterAll(() => s3.destroy());

describe('single presigned PUT', () => {
  it('stores the bytes sent with the returned headers, and read-back verifies them', async () => {
    const key = `${prefix}/single`;
    const data = Buffer.from('hello from a presigned PUT\n');
    const res = await presignedUpload(key, data);
    expect(res.status).toBe(200);
    await expect(files.head(key)).resolves.toMatchObject({ size: data.length });
    await expect(files.verify(key, data.length, sha256(data))).resolves.toBe('ok');
    await expect(files.verify(key, data.length, sha256(data), { cheapOnly: true })).resolves.toBe('unknown');
    expect((await readAll(await files.getStream(key))).equals(data)).toBe(true);
  });

  it('detects other bytes than declared (s3rver accepts them, read-back does not)', async () => {
    const key = `${prefix}/wrong`;
    const declared = Buffer.from('the bytes I promised');
    const sent = Buffer.from('the bytes I uploaded');
    expect(sent.length).toBe(declared.length);
    const res = await presignedUpload(key, sent, declared);
    expect(res.status).toBe(200);
    await expect(files.verify(key, declared.length, sha256(declared))).resolves.toBe('mismatch');
    await expect(files.verify(key, sent.length, sha256(sent))).resolves.toBe('ok');
    await expect(files.verify(key, declared.length + 1, sha256(declared))).resolves.toBe('mismatch');
  });

  it('says missing for an object never uploaded', async () => {
    await expect(files.verify(`${prefix}/never`, 1, sha256(Buffer.from('x')))).resolves.toBe('missing');
    await expect(files.head(`${prefix}/never`)).resolves.toBeUndefined();
  });
});

describe('multipart presigned upload', () => {
  it('uploads two parts, lists them, completes and verifies', async () => {
    const key = `${prefix}/multipart`;
    const part1 = randomBytes(5 * 1024 * 1024);
    const part2 = Buffer.from('and a small last part');
    const whole = Buffer.concat([part1, part2]);
    const uploadId = await files.createMultipartUpload(key);
    const etags: string[] = [];
    for (const [i, part] of [part1, part2].entries()) {
      const url = await files.presignUploadPart(key, uploadId, i + 1, part.length, 300);
      const res = await fetch(url, { method: 'PUT', body: part });
      expect(res.status).toBe(200);
      etags.push(res.headers.get('etag') ?? '');
    }
    const parts = await files.listUploadedParts(key, uploadId);
    expect(parts).toEqual([
      { partNumber: 1, etag: etags[0], size: part1.length },
      { partNumber: 2, etag: etags[1], size: part2.length },
    ]);
    await files.completeMultipartUpload(key, uploadId, parts);
    await expect(files.head(key)).resolves.toMatchObject({ size: whole.length });
    await expect(files.verify(key, whole.length, sha256(whole))).resolves.toBe('ok');
    await expect(files.verify(key, whole.length, sha256(part1))).resolves.toBe('mismatch');
  });

  it('aborts an upload, after which it has no parts to list', async () => {
    const key = `${prefix}/aborted`;
    const uploadId = await files.createMultipartUpload(key);
    const url = await files.presignUploadPart(key, uploadId, 1, 3, 300);
    expect((await fetch(url, { method: 'PUT', body: Buffer.from('abc') })).status).toBe(200);
    await expect(files.listUploadedParts(key, uploadId)).resolves.toHaveLength(1);
    await files.abortMultipartUpload(key, uploadId);
    await expect(files.listUploadedParts(key, uploadId)).rejects.toBeInstanceOf(NotFoundError);
    await expect(files.abortMultipartUpload(key, uploadId)).resolves.toBeUndefined();
    await expect(files.head(key)).resolves.toBeUndefined();
  });
});

describe('objects', () => {
  it('serves a presigned GET with an attachment name and type', async () => {
    const key = `${prefix}/download`;
    const data = Buffer.from('{"downloaded":true}');
    await files.put(key, data);
    const url = await files.presignGet(key, { filename: 'résumé.json', contentType: 'application/json', expiresInSeconds: 60 });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="r_sum_.json"; filename*=UTF-8''r%C3%A9sum%C3%A9.json`);
    expect(res.headers.get('content-type')).toBe('application/json');
  });

  it.each([
    ['small', 1000],
    ['larger than one 5 MiB part', 6 * 1024 * 1024 + 17],
  ])('round-trips a %s stream of unknown length', async (_, size) => {
    const key = `${prefix}/stream-${size}`;
    const data = randomBytes(size);
    const chunks = Array.from({ length: Math.ceil(size / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
    await files.putStream(key, Readable.from(chunks), 'application/octet-stream');
    const back = await readAll(await files.getStream(key));
    expect(back.length).toBe(size);
    expect(sha256(back)).toBe(sha256(data));
  });

  it('copies to a new key, including keys with spaces and non-ASCII characters', async () => {
    const from = `${prefix}/copy source ü.txt`;
    const to = `${prefix}/copied/target ü.txt`;
    const data = Buffer.from('copy me');
    await files.put(from, data, 'text/plain');
    await files.copy(from, to);
    expect((await readAll(await files.getStream(to))).equals(data)).toBe(true);
    await expect(files.copy(`${prefix}/no such source`, `${prefix}/x`)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('deletes, and deleting again is fine', async () => {
    const key = `${prefix}/delete-me`;
    await files.put(key, Buffer.from('bye'));
    await expect(files.head(key)).resolves.toMatchObject({ size: 3 });
    await files.delete(key);
    await expect(files.head(key)).resolves.toBeUndefined();
    await expect(files.delete(key)).resolves.toBeUndefined();
    await expect(files.getStream(key)).rejects.toBeInstanceOf(NotFoundError);
  });
});
