import 'aws-sdk-client-mock-jest';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  NoSuchKey,
  NoSuchUpload,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { NotFoundError } from '../../shared/domain/errors';
import { S3FileStore, contentDisposition, encodeKeyForCopySource } from '../../shared/adapters/s3/file-store';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
const bytes = Buffer.from('the quick brown fox jumps over the lazy dog');
const hex = createHash('sha256').update(bytes).digest('hex');
const b64 = createHash('sha256').update(bytes).digest('base64');
const otherB64 = createHash('sha256').update('something else').digest('base64');

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'eu-west-1', credentials });
const presigner = new S3Client({
  region: 'eu-west-1',
  credentials,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

function store(verifyMode: 'checksum' | 'readback', withPresigner = true): S3FileStore {
  return new S3FileStore(s3, 'bucket', withPresigner ? { verifyMode, presigner } : { verifyMode });
}

function body(...chunks: (string | Buffer)[]): never {
  return Readable.from(chunks.map((c) => Buffer.from(c))) as never;
}

const meta = { $metadata: {} };

beforeEach(() => s3Mock.reset());

describe('presignPut', () => {
  it.each([
    ['the given presigning client', true],
    ['a presigning client derived from the S3 client', false],
  ])('binds size and SHA-256 as signed headers with %s', async (_, withPresigner) => {
    const { url, headers } = await store('checksum', withPresigner).presignPut('blobs/ab/cd', bytes.length, hex, 600);
    const u = new URL(url);
    expect(u.pathname).toBe('/blobs/ab/cd');
    expect(u.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;host;x-amz-checksum-sha256');
    expect(u.searchParams.get('X-Amz-Expires')).toBe('600');
    // no CRC32 of an empty body, and the checksum is a header, not a query parameter
    expect([...u.searchParams.keys()].filter((k) => k.toLowerCase().startsWith('x-amz-checksum') || k.toLowerCase().startsWith('x-amz-sdk-checksum'))).toEqual([]);
    expect(headers).toEqual({ 'content-length': String(bytes.length), 'x-amz-checksum-sha256': b64 });
  });

  it('refuses a malformed SHA-256 and sizes beyond one PUT', async () => {
    await expect(store('checksum').presignPut('k', 1, 'xyz', 60)).rejects.toThrow(/64 hexadecimal/);
    await expect(store('checksum').presignPut('k', 5 * 1024 ** 3 + 1, hex, 60)).rejects.toThrow(/multipart/);
    await expect(store('checksum').presignPut('k', 1, hex, 8 * 24 * 3600)).rejects.toThrow(/expiry/);
  });
});

describe('presignUploadPart', () => {
  it('signs the part size and carries no checksum', async () => {
    const url = new URL(await store('checksum').presignUploadPart('k/1', 'up-1', 3, 5 * 1024 * 1024, 300));
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;host');
    expect(url.searchParams.get('partNumber')).toBe('3');
    expect(url.searchParams.get('uploadId')).toBe('up-1');
    expect(url.search).not.toMatch(/checksum/i);
  });
});

describe('presignGet', () => {
  it.each([true, false])('asks S3 for an attachment disposition and the content type (given presigner: %s)', async (withPresigner) => {
    const url = new URL(await store('checksum', withPresigner).presignGet('k', { filename: 'résumé "v2".txt', contentType: 'text/plain', expiresInSeconds: 60 }));
    expect(url.searchParams.get('response-content-disposition')).toBe(
      `attachment; filename="r_sum_ _v2_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.txt`,
    );
    expect(url.searchParams.get('response-content-type')).toBe('text/plain');
    expect(url.searchParams.get('x-amz-checksum-mode')).toBeNull();
  });

  it('leaves the disposition out without a filename', async () => {
    const url = new URL(await store('checksum').presignGet('k', { expiresInSeconds: 60 }));
    expect(url.searchParams.get('response-content-disposition')).toBeNull();
  });
});

describe('contentDisposition', () => {
  it('quotes plain ASCII names', () => {
    expect(contentDisposition('hello-1.0.tar.xz')).toBe('attachment; filename="hello-1.0.tar.xz"');
  });
  it('never lets quotes, backslashes or control characters through the quoted name', () => {
    const v = contentDisposition('a"b\\c\r\nd.txt');
    expect(v).toBe(`attachment; filename="a_b_cd.txt"; filename*=UTF-8''a%22b%5Ccd.txt`);
  });
  it('encodes RFC 5987 specials', () => {
    expect(contentDisposition("ü'(x)*.txt")).toBe(`attachment; filename="_'(x)*.txt"; filename*=UTF-8''%C3%BC%27%28x%29%2A.txt`);
  });
});

describe('verify in checksum mode', () => {
  it('answers ok from a matching full-object checksum without reading the bytes', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ChecksumSHA256: b64, ChecksumType: 'FULL_OBJECT' });
    await expect(store('checksum').verify('k', bytes.length, hex)).resolves.toBe('ok');
    expect(s3Mock).toHaveReceivedCommandWith(HeadObjectCommand, { Bucket: 'bucket', Key: 'k', ChecksumMode: 'ENABLED' });
    expect(s3Mock).not.toHaveReceivedCommand(GetObjectCommand);
  });

  it('accepts a checksum without ChecksumType (older objects)', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ChecksumSHA256: b64 });
    await expect(store('checksum').verify('k', bytes.length, hex.toUpperCase(), { cheapOnly: true })).resolves.toBe('ok');
  });

  it('answers mismatch for another checksum', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ChecksumSHA256: otherB64, ChecksumType: 'FULL_OBJECT' });
    await expect(store('checksum').verify('k', bytes.length, hex)).resolves.toBe('mismatch');
    expect(s3Mock).not.toHaveReceivedCommand(GetObjectCommand);
  });

  it('answers mismatch for another size', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length + 1, ChecksumSHA256: b64 });
    await expect(store('checksum').verify('k', bytes.length, hex)).resolves.toBe('mismatch');
  });

  it('answers missing when there is no object', async () => {
    s3Mock.on(HeadObjectCommand).rejects(new NotFound({ message: 'NotFound', $metadata: { httpStatusCode: 404 } }));
    await expect(store('checksum').verify('k', bytes.length, hex)).resolves.toBe('missing');
  });

  it.each([
    ['a composite checksum', { ChecksumSHA256: `${otherB64}-2`, ChecksumType: 'COMPOSITE' as const }],
    ['a composite checksum without type', { ChecksumSHA256: `${otherB64}-12` }],
    ['a CRC64 full-object checksum only', { ChecksumCRC64NVME: 'AAAAAAAAAAA=', ChecksumType: 'FULL_OBJECT' as const }],
  ])('falls back to reading back for %s', async (_, checksum) => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ...checksum });
    s3Mock.on(GetObjectCommand).resolves({ Body: body(bytes.subarray(0, 10), bytes.subarray(10)) });
    await expect(store('checksum').verify('k', bytes.length, hex, { cheapOnly: true })).resolves.toBe('unknown');
    expect(s3Mock).not.toHaveReceivedCommand(GetObjectCommand);
    await expect(store('checksum').verify('k', bytes.length, hex)).resolves.toBe('ok');
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: 'bucket', Key: 'k' });
  });

  it('rethrows errors other than a missing object', async () => {
    s3Mock.on(HeadObjectCommand).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', message: 'no', $metadata: {} }));
    await expect(store('checksum').verify('k', bytes.length, hex)).rejects.toThrow('no');
  });
});

describe('verify in readback mode', () => {
  it('hashes the streamed object', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length });
    s3Mock.on(GetObjectCommand).resolves({ Body: body('the quick ', 'brown fox jumps', ' over the lazy dog') });
    await expect(store('readback').verify('k', bytes.length, hex)).resolves.toBe('ok');
    const head = s3Mock.commandCalls(HeadObjectCommand)[0]!.args[0].input;
    expect(head.ChecksumMode).toBeUndefined();
  });

  it('answers mismatch for other bytes of the same size', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length });
    s3Mock.on(GetObjectCommand).resolves({ Body: body('the quick brown fox jumps over the lazy cat') });
    await expect(store('readback').verify('k', bytes.length, hex)).resolves.toBe('mismatch');
  });

  it('answers mismatch when the stream is shorter than the object claimed', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length });
    s3Mock.on(GetObjectCommand).resolves({ Body: body('the quick') });
    await expect(store('readback').verify('k', bytes.length, hex)).resolves.toBe('mismatch');
  });

  it('does not trust a stored checksum and says unknown when asked for a cheap check', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ChecksumSHA256: b64 });
    await expect(store('readback').verify('k', bytes.length, hex, { cheapOnly: true })).resolves.toBe('unknown');
  });

  it('answers missing when the object disappears before the read', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: bytes.length });
    s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: {} }));
    await expect(store('readback').verify('k', bytes.length, hex)).resolves.toBe('missing');
  });
});

describe('multipart', () => {
  it('returns the upload id', async () => {
    s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u-1' });
    await expect(store('checksum').createMultipartUpload('k')).resolves.toBe('u-1');
  });

  it('lists every part across pages', async () => {
    s3Mock
      .on(ListPartsCommand)
      .resolvesOnce({ IsTruncated: true, NextPartNumberMarker: '2', Parts: [{ PartNumber: 1, ETag: '"e1"', Size: 5 }, { PartNumber: 2, ETag: '"e2"', Size: 5 }] })
      .resolvesOnce({ IsTruncated: false, Parts: [{ PartNumber: 3, ETag: '"e3"', Size: 1 }] });
    await expect(store('checksum').listUploadedParts('k', 'u-1')).resolves.toEqual([
      { partNumber: 1, etag: '"e1"', size: 5 },
      { partNumber: 2, etag: '"e2"', size: 5 },
      { partNumber: 3, etag: '"e3"', size: 1 },
    ]);
    const calls = s3Mock.commandCalls(ListPartsCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toEqual({ Bucket: 'bucket', Key: 'k', UploadId: 'u-1' });
    expect(calls[1]).toEqual({ Bucket: 'bucket', Key: 'k', UploadId: 'u-1', PartNumberMarker: '2' });
  });

  it('stops on a truncated page without a new marker', async () => {
    s3Mock.on(ListPartsCommand).resolves({ IsTruncated: true, Parts: [] });
    await expect(store('checksum').listUploadedParts('k', 'u-1')).rejects.toThrow(/NextPartNumberMarker/);
  });

  it('reports an unknown upload as not found', async () => {
    s3Mock.on(ListPartsCommand).rejects(new NoSuchUpload({ message: 'no', $metadata: {} }));
    await expect(store('checksum').listUploadedParts('k', 'u-1')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('completes with the parts in order', async () => {
    s3Mock.on(CompleteMultipartUploadCommand).resolves({});
    await store('checksum').completeMultipartUpload('k', 'u-1', [
      { partNumber: 2, etag: '"b"' },
      { partNumber: 1, etag: '"a"' },
    ]);
    expect(s3Mock).toHaveReceivedCommandWith(CompleteMultipartUploadCommand, {
      Bucket: 'bucket',
      Key: 'k',
      UploadId: 'u-1',
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"a"' }, { PartNumber: 2, ETag: '"b"' }] },
    });
  });

  it('aborts idempotently', async () => {
    s3Mock.on(AbortMultipartUploadCommand).rejects(new NoSuchUpload({ message: 'no', $metadata: {} }));
    await expect(store('checksum').abortMultipartUpload('k', 'u-1')).resolves.toBeUndefined();
    expect(s3Mock).toHaveReceivedCommandTimes(AbortMultipartUploadCommand, 1);
  });
});

describe('objects', () => {
  it('URL-encodes the copy source per path segment', async () => {
    s3Mock.on(CopyObjectCommand).resolves({});
    await store('checksum').copy('dir/a b+c ü?.txt', 'to/key');
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
      Bucket: 'bucket',
      Key: 'to/key',
      CopySource: 'bucket/dir/a%20b%2Bc%20%C3%BC%3F.txt',
    });
    expect(encodeKeyForCopySource('a/b/c')).toBe('a/b/c');
  });

  it('reports a missing copy source as not found', async () => {
    s3Mock.on(CopyObjectCommand).rejects(new NoSuchKey({ message: 'no', $metadata: {} }));
    await expect(store('checksum').copy('a', 'b')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('deletes a missing object without error, but reports other failures', async () => {
    s3Mock.on(DeleteObjectCommand, { Key: 'missing' }).rejects(new NoSuchKey({ message: 'no', $metadata: {} }));
    s3Mock.on(DeleteObjectCommand, { Key: 'denied' }).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', message: 'denied', $metadata: {} }));
    await expect(store('checksum').delete('missing')).resolves.toBeUndefined();
    await expect(store('checksum').delete('denied')).rejects.toThrow('denied');
  });

  it('puts a buffer with its length and type', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    await store('checksum').put('k', Buffer.from('abc'), 'application/json');
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: 'bucket', Key: 'k', ContentLength: 3, ContentType: 'application/json' });
  });

  it('streams a small body of unknown length with one PutObject', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    await store('checksum').putStream('k', Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 'text/plain');
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: 'bucket', Key: 'k', ContentType: 'text/plain' });
    const sent = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input.Body;
    expect(Buffer.from(sent as Uint8Array).toString()).toBe('abcd');
  });

  it('heads to a size, or undefined', async () => {
    s3Mock.on(HeadObjectCommand, { Key: 'there' }).resolves({ ContentLength: 42 });
    s3Mock.on(HeadObjectCommand, { Key: 'gone' }).rejects(new NotFound({ message: 'NotFound', $metadata: {} }));
    await expect(store('checksum').head('there')).resolves.toEqual({ size: 42 });
    await expect(store('checksum').head('gone')).resolves.toBeUndefined();
  });

  it('streams an object, and reports a missing one as not found', async () => {
    s3Mock.on(GetObjectCommand, { Key: 'there' }).resolves({ Body: body('ab', 'c') });
    s3Mock.on(GetObjectCommand, { Key: 'gone' }).rejects(new NoSuchKey({ message: 'no', ...meta }));
    const chunks: Buffer[] = [];
    for await (const c of await store('checksum').getStream('there')) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('abc');
    await expect(store('checksum').getStream('gone')).rejects.toBeInstanceOf(NotFoundError);
  });
});
