/**
 * FileStore on S3 (and on s3rver for the local stack).
 *
 * Uploads go straight from the client to S3 with presigned URLs:
 * - single PUT: the URL signs `content-length` and `x-amz-checksum-sha256`, so S3 refuses any other
 *   size or bytes; the client must send exactly the headers `presignPut` returns.
 * - multipart: each part URL signs its `content-length`. S3 cannot give a full-object SHA-256 for a
 *   multipart object, so those are verified by reading the object back (`verify` without `cheapOnly`).
 *
 * `verifyMode` says what S3 checks: `checksum` (AWS: S3 enforced the signed SHA-256, so `HeadObject`
 * with `ChecksumMode` answers), `readback` (s3rver checks neither signatures nor checksums: the bytes
 * are always hashed here).
 *
 * Presigning uses a separate client built with `requestChecksumCalculation: 'WHEN_REQUIRED'`: a default
 * client puts the CRC32 of an *empty* body into presigned PUT/UploadPart URLs (aws/aws-sdk-js-v3#6994).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type HeadObjectCommandOutput,
  type ListPartsCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { NotFoundError } from '../../domain/errors';
import type { FileStore, ObjectInfo } from '../../ports';

export type VerifyMode = 'checksum' | 'readback';

export interface S3FileStoreOptions {
  verifyMode: VerifyMode;
  /**
   * Client used only to presign URLs; it must be built with `requestChecksumCalculation: 'WHEN_REQUIRED'`
   * (see `presigningClientFor`). Derived from `s3` when absent.
   */
  presigner?: S3Client;
}

/** S3's limit for one PUT. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;
/** SigV4 presigned URLs live at most a week. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

export class S3FileStore implements FileStore {
  private readonly presigner: S3Client;
  private readonly verifyMode: VerifyMode;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    opts: S3FileStoreOptions,
  ) {
    if (!bucket) throw new Error('S3FileStore: bucket name is empty');
    if (opts.verifyMode !== 'checksum' && opts.verifyMode !== 'readback') {
      throw new Error(`S3FileStore: unknown verifyMode ${JSON.stringify(opts.verifyMode)}`);
    }
    this.verifyMode = opts.verifyMode;
    this.presigner = opts.presigner ?? presigningClientFor(s3);
  }

  async presignPut(
    key: string,
    size: number,
    sha256Hex: string,
    expiresInSeconds: number,
  ): Promise<{ url: string; headers: Record<string, string> }> {
    checkSize(size);
    if (size > MAX_SINGLE_PUT_BYTES) throw new RangeError(`a single PUT holds at most ${MAX_SINGLE_PUT_BYTES} bytes; use multipart`);
    const checksum = sha256Base64(sha256Hex);
    const url = await getSignedUrl(
      this.presigner,
      new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentLength: size, ChecksumSHA256: checksum }),
      {
        expiresIn: checkExpiry(expiresInSeconds),
        signableHeaders: new Set(['content-length', 'x-amz-checksum-sha256']),
        // Keep the checksum a signed *header* (the SDK would otherwise hoist every x-amz-* header
        // into the query string).
        unhoistableHeaders: new Set(['x-amz-checksum-sha256']),
      },
    );
    // The headers the client must send are exactly the signed ones (besides host).
    const known: Record<string, string> = {
      'content-length': String(size),
      'x-amz-checksum-sha256': checksum,
      'x-amz-sdk-checksum-algorithm': 'SHA256',
    };
    const headers: Record<string, string> = {};
    for (const name of signedHeaders(url)) {
      if (name === 'host') continue;
      const value = known[name];
      if (value === undefined) throw new Error(`presigned PUT signs an unexpected header: ${name}`);
      headers[name] = value;
    }
    if (!headers['content-length'] || !headers['x-amz-checksum-sha256']) {
      throw new Error(`presigned PUT does not bind size and checksum (signed: ${signedHeaders(url).join(';')})`);
    }
    if (/[?&]x-amz-checksum-crc32=/i.test(url)) throw new Error('presigned PUT carries a CRC32 checksum: presigner misconfigured');
    return { url, headers };
  }

  async createMultipartUpload(key: string): Promise<string> {
    const out = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
    if (!out.UploadId) throw new Error(`CreateMultipartUpload for ${key} returned no UploadId`);
    return out.UploadId;
  }

  async presignUploadPart(key: string, uploadId: string, partNumber: number, size: number, expiresInSeconds: number): Promise<string> {
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) throw new RangeError(`invalid part number ${partNumber}`);
    checkSize(size);
    return getSignedUrl(
      this.presigner,
      new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, ContentLength: size }),
      { expiresIn: checkExpiry(expiresInSeconds), signableHeaders: new Set(['content-length']) },
    );
  }

  async listUploadedParts(key: string, uploadId: string): Promise<{ partNumber: number; etag: string; size: number }[]> {
    const parts: { partNumber: number; etag: string; size: number }[] = [];
    let marker: string | undefined;
    for (;;) {
      let page: ListPartsCommandOutput;
      try {
        page = await this.s3.send(
          new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, ...(marker ? { PartNumberMarker: marker } : {}) }),
        );
      } catch (err) {
        if (errorName(err) === 'NoSuchUpload') throw new NotFoundError('Upload not found', 'the multipart upload does not exist or has expired');
        if (errorName(err) === 'MethodNotAllowed' || errorName(err) === 'NotImplemented') {
          throw new Error('this S3 endpoint does not implement ListParts (s3rver: install installS3rverMultipartShims)', { cause: err });
        }
        throw err;
      }
      for (const p of page.Parts ?? []) {
        if (p.PartNumber === undefined || p.ETag === undefined || p.Size === undefined) continue;
        parts.push({ partNumber: p.PartNumber, etag: p.ETag, size: p.Size });
      }
      if (!page.IsTruncated) break;
      const next = page.NextPartNumberMarker;
      if (next === undefined || next === marker) throw new Error('ListParts is truncated but gives no new NextPartNumberMarker');
      marker = next;
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void> {
    if (parts.length === 0) throw new RangeError('a multipart upload needs at least one part');
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    try {
      await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: sorted.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      );
    } catch (err) {
      if (errorName(err) === 'NoSuchUpload') throw new NotFoundError('Upload not found', 'the multipart upload does not exist or has expired');
      throw err;
    }
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (err) {
      if (errorName(err) === 'NoSuchUpload') return; // already aborted or completed
      throw err;
    }
  }

  async verify(
    key: string,
    size: number,
    sha256Hex: string,
    opts: { cheapOnly?: boolean } = {},
  ): Promise<'ok' | 'mismatch' | 'missing' | 'unknown'> {
    const expected = sha256Base64(sha256Hex);
    let head: HeadObjectCommandOutput;
    try {
      head = await this.s3.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: key, ...(this.verifyMode === 'checksum' ? { ChecksumMode: 'ENABLED' } : {}) }),
      );
    } catch (err) {
      if (isMissingObject(err)) return 'missing';
      throw err;
    }
    if (head.ContentLength !== size) return 'mismatch';
    if (this.verifyMode === 'checksum') {
      const stored = head.ChecksumSHA256;
      if (stored && isFullObjectChecksum(stored, head.ChecksumType)) return stored === expected ? 'ok' : 'mismatch';
    }
    if (opts.cheapOnly) return 'unknown';
    return this.readBack(key, size, sha256Hex.toLowerCase());
  }

  /** Hashes the stored bytes. */
  private async readBack(key: string, size: number, sha256Hex: string): Promise<'ok' | 'mismatch' | 'missing'> {
    let body: Readable;
    try {
      body = await this.getStream(key);
    } catch (err) {
      if (err instanceof NotFoundError) return 'missing';
      throw err;
    }
    const hash = createHash('sha256');
    let length = 0;
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      length += buf.length;
      hash.update(buf);
    }
    return length === size && hash.digest('hex') === sha256Hex ? 'ok' : 'mismatch';
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, ...(out.Metadata ? { metadata: out.Metadata } : {}) };
    } catch (err) {
      if (isMissingObject(err)) return undefined;
      throw err;
    }
  }

  async presignGet(key: string, opts: { filename?: string; contentType?: string; expiresInSeconds: number }): Promise<string> {
    return getSignedUrl(
      this.presigner,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ...(opts.filename !== undefined ? { ResponseContentDisposition: contentDisposition(opts.filename) } : {}),
        ...(opts.contentType ? { ResponseContentType: opts.contentType } : {}),
      }),
      { expiresIn: checkExpiry(opts.expiresInSeconds) },
    );
  }

  async put(key: string, body: Buffer, contentType?: string, metadata?: Record<string, string>): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ...(contentType ? { ContentType: contentType } : {}),
        ...(metadata ? { Metadata: metadata } : {}),
      }),
    );
  }

  async list(prefix: string): Promise<{ key: string; size: number }[]> {
    const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: 1000 }));
    return (out.Contents ?? []).map((o) => ({ key: o.Key ?? '', size: o.Size ?? 0 }));
  }

  async putStream(key: string, body: Readable, contentType?: string): Promise<void> {
    // lib-storage buffers 5 MiB parts: one PutObject for small bodies, multipart beyond.
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: body, ...(contentType ? { ContentType: contentType } : {}) },
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async getStream(key: string): Promise<Readable> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(out.Body instanceof Readable)) throw new Error(`GetObject for ${key} did not return a Node.js stream`);
      return out.Body;
    } catch (err) {
      if (isMissingObject(err)) throw new NotFoundError('File not found', 'the stored object does not exist');
      throw err;
    }
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    try {
      await this.s3.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: toKey,
          CopySource: `${this.bucket}/${encodeKeyForCopySource(fromKey)}`,
          // S3 computes a full-object SHA-256 for the copy (cheap verification later, even when the
          // source was a multipart upload). s3rver ignores it.
          ChecksumAlgorithm: 'SHA256',
        }),
      );
    } catch (err) {
      if (isMissingObject(err)) throw new NotFoundError('File not found', 'the object to copy does not exist');
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isMissingObject(err)) return;
      throw err;
    }
  }
}

/**
 * A client for presigning built from `s3`'s configuration, with flexible checksums only when required
 * (no CRC32 of an empty body in PUT/UploadPart URLs, no `x-amz-checksum-mode` in GET URLs).
 */
export function presigningClientFor(s3: S3Client): S3Client {
  const c = s3.config;
  return new S3Client({
    region: c.region,
    credentials: c.credentials,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    forcePathStyle: c.forcePathStyle,
    useAccelerateEndpoint: c.useAccelerateEndpoint,
    useDualstackEndpoint: c.useDualstackEndpoint,
    useFipsEndpoint: c.useFipsEndpoint,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** `attachment` Content-Disposition with a safe quoted ASCII filename, plus RFC 6266 `filename*` when needed. */
export function contentDisposition(filename: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = filename.replace(/[\u0000-\u001f\u007f]/g, '') || 'download';
  // Quotes and backslashes are replaced rather than escaped: browsers disagree on backslash escapes.
  const fallback = clean.replace(/[^\x20-\x7e]|["\\]/gu, '_');
  if (fallback === clean) return `attachment; filename="${fallback}"`;
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeRfc5987(clean)}`;
}

function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `x-amz-copy-source` must be URL-encoded; slashes between segments stay. */
export function encodeKeyForCopySource(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** S3 marks checksums of multipart objects built from part checksums with a `-<parts>` suffix. */
function isFullObjectChecksum(checksum: string, type: string | undefined): boolean {
  if (type !== undefined && type !== 'FULL_OBJECT') return false;
  return !/-\d+$/.test(checksum);
}

function signedHeaders(url: string): string[] {
  return (new URL(url).searchParams.get('X-Amz-SignedHeaders') ?? '').split(';').filter(Boolean);
}

function sha256Base64(sha256Hex: string): string {
  if (!SHA256_HEX.test(sha256Hex)) throw new RangeError('sha256 must be 64 hexadecimal digits');
  return Buffer.from(sha256Hex, 'hex').toString('base64');
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid size ${size}`);
}

function checkExpiry(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PRESIGN_SECONDS) {
    throw new RangeError(`presigned URL expiry must be 1..${MAX_PRESIGN_SECONDS} seconds`);
  }
  return seconds;
}

function errorName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'name' in err ? String((err as { name: unknown }).name) : undefined;
}

/** HeadObject answers a bare 404 (`NotFound`); GetObject/CopyObject/DeleteObject name it `NoSuchKey`. */
function isMissingObject(err: unknown): boolean {
  const name = errorName(err);
  return name === 'NotFound' || name === 'NoSuchKey';
}
