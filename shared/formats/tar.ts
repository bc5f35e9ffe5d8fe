/**
 * A streaming tar.gz writer (POSIX ustar + PAX extended headers), without dependencies.
 *
 * Entries are read one at a time, in order, with back-pressure: `open()` of an entry is called only when
 * the archive reaches it, so a whole artifact can be streamed from S3 without buffering files.
 * - regular files, mode 0644, uid/gid 0;
 * - a path longer than 100 bytes or not plain ASCII gets a PAX `path=` record (UTF-8) ahead of its header;
 *   a size beyond ustar's 8 GiB gets a PAX `size=` record;
 * - file data padded to 512 bytes; the archive ends with two zero blocks.
 * An entry whose stream yields a different number of bytes than its declared `size` fails the archive.
 */
import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';

export interface TarEntry {
  /** Relative path inside the archive (POSIX separators). */
  path: string;
  size: number;
  mtime: Date;
  open(): Promise<Readable>;
}

const BLOCK = 512;
const MAX_USTAR_NAME = 100;
/** Largest size 11 octal digits hold. */
const MAX_USTAR_SIZE = 0o77777777777;

export function createTarGzStream(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>, opts: { level?: number } = {}): Readable {
  const tar = Readable.from(tarBlocks(entries), { objectMode: false });
  const gzip = createGzip({ level: opts.level ?? 6 });
  // pipeline destroys both sides on error (and closes the source, hence the open entry, when the
  // consumer stops reading early).
  pipeline(tar, gzip, () => {});
  return gzip;
}

/** The uncompressed tar stream, as chunks. */
export async function* tarBlocks(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    checkEntry(entry);
    yield* entryHeaders(entry);
    const stream = await entry.open();
    let written = 0;
    try {
      for await (const chunk of stream) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        written += buf.length;
        if (written > entry.size) throw new Error(`tar: ${entry.path} is longer than its declared ${entry.size} bytes`);
        if (buf.length) yield buf;
      }
    } finally {
      if (!stream.destroyed) stream.destroy();
    }
    if (written !== entry.size) throw new Error(`tar: ${entry.path} has ${written} bytes, ${entry.size} declared`);
    const pad = padding(entry.size);
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(2 * BLOCK);
}

function checkEntry(entry: TarEntry): void {
  if (!entry.path || entry.path.includes('\0')) throw new Error(`tar: invalid path ${JSON.stringify(entry.path)}`);
  if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw new Error(`tar: invalid size for ${entry.path}`);
}

/** The PAX extended header (if needed) and the ustar header of one regular file. */
export function entryHeaders(entry: { path: string; size: number; mtime: Date }): Buffer[] {
  const out: Buffer[] = [];
  const nameBytes = Buffer.byteLength(entry.path, 'utf8');
  const ascii = /^[\x20-\x7e]*$/.test(entry.path);
  const records: string[] = [];
  if (!ascii || nameBytes > MAX_USTAR_NAME) records.push(paxRecord('path', entry.path));
  if (entry.size > MAX_USTAR_SIZE) records.push(paxRecord('size', String(entry.size)));
  const mtime = Math.max(0, Math.floor(entry.mtime.getTime() / 1000));
  const name = ascii && nameBytes <= MAX_USTAR_NAME ? entry.path : fallbackName(entry.path);
  if (records.length) {
    const data = Buffer.from(records.join(''), 'utf8');
    out.push(ustarHeader({ name: paxHeaderName(name), size: data.length, mtime, type: 'x' }));
    out.push(data);
    const pad = padding(data.length);
    if (pad) out.push(Buffer.alloc(pad));
  }
  out.push(ustarHeader({ name, size: Math.min(entry.size, MAX_USTAR_SIZE), mtime, type: '0' }));
  return out;
}

/** `"<len> <key>=<value>\n"` where `<len>` counts the whole record, its own digits included. */
export function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restBytes = Buffer.byteLength(rest, 'utf8');
  let digits = String(restBytes).length;
  if (String(restBytes + digits).length > digits) digits += 1;
  return `${restBytes + digits}${rest}`;
}

/** ASCII, at most 100 bytes: what readers without PAX support see. */
function fallbackName(path: string): string {
  const ascii = path.replace(/[^\x20-\x7e]/gu, '_');
  return ascii.length <= MAX_USTAR_NAME ? ascii : ascii.slice(ascii.length - MAX_USTAR_NAME);
}

function paxHeaderName(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1) || 'entry';
  return `PaxHeaders/${base}`.slice(0, MAX_USTAR_NAME);
}

function ustarHeader(h: { name: string; size: number; mtime: number; type: '0' | 'x' }): Buffer {
  const buf = Buffer.alloc(BLOCK);
  buf.write(h.name, 0, MAX_USTAR_NAME, 'ascii');
  octal(buf, 100, 8, 0o644);
  octal(buf, 108, 8, 0);
  octal(buf, 116, 8, 0);
  octal(buf, 124, 12, h.size);
  octal(buf, 136, 12, h.mtime);
  buf.write('        ', 148, 8, 'ascii'); // checksum placeholder
  buf.write(h.type, 156, 1, 'ascii');
  buf.write('ustar\0', 257, 6, 'ascii');
  buf.write('00', 263, 2, 'ascii');
  octal(buf, 329, 8, 0); // devmajor
  octal(buf, 337, 8, 0); // devminor
  let sum = 0;
  for (const byte of buf) sum += byte;
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return buf;
}

/** Zero-padded octal, NUL-terminated, filling `width` bytes. */
function octal(buf: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8).padStart(width - 1, '0');
  if (digits.length > width - 1) throw new Error(`tar: ${value} does not fit in ${width - 1} octal digits`);
  buf.write(`${digits}\0`, offset, width, 'ascii');
}

function padding(size: number): number {
  const rem = size % BLOCK;
  return rem ? BLOCK - rem : 0;
}
