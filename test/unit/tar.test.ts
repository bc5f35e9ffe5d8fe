import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { createTarGzStream, paxRecord, type TarEntry } from '../../shared/formats/tar';

const mtime = new Date('2026-01-02T03:04:05Z');
const longPath = `deep/${'d'.repeat(40)}/${'e'.repeat(40)}/${'f'.repeat(59)}.txt`; // 150 characters
const utf8Path = 'pool/ünïcødé/файл-名前.txt';

function entry(path: string, data: Buffer, opts: { chunk?: number } = {}): TarEntry & { opened: number } {
  const e = {
    path,
    size: data.length,
    mtime,
    opened: 0,
    async open() {
      e.opened += 1;
      const chunk = opts.chunk ?? 64 * 1024;
      const parts: Buffer[] = [];
      for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
      return Readable.from(parts);
    },
  };
  return e;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function* asyncIter<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield i;
}

function tar(args: string[], cwd?: string): string {
  return execFileSync('tar', args, { cwd, env: { ...process.env, LC_ALL: 'C.UTF-8' }, encoding: 'utf8' });
}

describe('createTarGzStream', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-tar-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const files: [string, Buffer][] = [
    ['hello.txt', Buffer.from('hello world\n')],
    [longPath, Buffer.from('long path contents')],
    [utf8Path, Buffer.from('utf-8 name')],
    ['empty', Buffer.alloc(0)],
    ['big/random.bin', randomBytes(1024 * 1024 + 12345)],
    ['exact-block', Buffer.alloc(512, 0x41)],
    // exactly 100 ASCII bytes: still fits the ustar name field
    [`${'n'.repeat(96)}.bin`, Buffer.from([0, 1, 2, 255])],
  ];

  it('writes an archive that GNU tar lists and extracts byte for byte', async () => {
    expect(longPath).toHaveLength(150);
    const entries = files.map(([p, d]) => entry(p, d, { chunk: 7000 }));
    const archive = await collect(createTarGzStream(asyncIter(entries)));
    const file = join(dir, 'a.tar.gz');
    writeFileSync(file, archive);

    const listing = tar(['--quoting-style=literal', '-tzvf', file])
      .trim()
      .split('\n')
      .map((line) => {
        const m = /^(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*)$/.exec(line);
        if (!m) throw new Error(`unparsed tar line: ${line}`);
        return { mode: m[1], owner: m[2], size: Number(m[3]), date: m[4], name: m[6] };
      });
    expect(listing.map((l) => [l.name, l.size])).toEqual(files.map(([p, d]) => [p, d.length]));
    for (const l of listing) {
      expect(l.mode).toBe('-rw-r--r--');
      expect(l.owner).toBe('0/0');
      expect(l.date).toBe('2026-01-02');
    }

    const out = join(dir, 'out');
    execFileSync('mkdir', [out]);
    tar(['-xzf', file, '-C', out]);
    for (const [p, d] of files) expect(readFileSync(join(out, p)).equals(d)).toBe(true);
    for (const e of entries) expect(e.opened).toBe(1);
  });

  it('ends with two zero blocks and pads data to 512 bytes', async () => {
    const raw = gunzipSync(await collect(createTarGzStream([entry('a', Buffer.from('xyz'))])));
    // header + one padded data block + two zero blocks
    expect(raw.length).toBe(512 * 4);
    expect(raw.subarray(512, 515).toString()).toBe('xyz');
    expect(raw.subarray(515).every((b) => b === 0)).toBe(true);
    expect(raw.subarray(257, 263).toString('latin1')).toBe('ustar\0');
    expect(raw.subarray(100, 107).toString()).toBe('0000644');
  });

  it('opens entries one at a time, in order', async () => {
    const events: string[] = [];
    const mk = (name: string): TarEntry => ({
      path: name,
      size: 3,
      mtime,
      async open() {
        events.push(`open ${name}`);
        return Readable.from([Buffer.from('abc')]).on('end', () => events.push(`end ${name}`));
      },
    });
    await collect(createTarGzStream([mk('one'), mk('two')]));
    expect(events).toEqual(['open one', 'end one', 'open two', 'end two']);
  });

  it('fails the archive when an entry has fewer bytes than declared', async () => {
    const bad: TarEntry = { path: 'short', size: 10, mtime, open: async () => Readable.from([Buffer.from('abc')]) };
    await expect(collect(createTarGzStream([bad]))).rejects.toThrow(/short has 3 bytes, 10 declared/);
  });

  it('fails the archive when an entry has more bytes than declared', async () => {
    const bad: TarEntry = { path: 'long', size: 2, mtime, open: async () => Readable.from([Buffer.from('abc')]) };
    await expect(collect(createTarGzStream([bad]))).rejects.toThrow(/longer than its declared 2 bytes/);
  });

  it('fails the archive when opening an entry fails', async () => {
    const bad: TarEntry = { path: 'x', size: 1, mtime, open: () => Promise.reject(new Error('boom')) };
    await expect(collect(createTarGzStream([bad]))).rejects.toThrow('boom');
  });
});

describe('paxRecord', () => {
  it('prefixes the exact byte length, its own digits included, across digit boundaries', () => {
    for (let n = 0; n < 1100; n += 1) {
      for (const ch of ['a', 'é']) {
        const rec = paxRecord('path', ch.repeat(n));
        const len = Number(rec.slice(0, rec.indexOf(' ')));
        expect(len).toBe(Buffer.byteLength(rec));
      }
    }
    expect(paxRecord('path', 'a'.repeat(90))).toBe(`99 path=${'a'.repeat(90)}\n`);
    expect(paxRecord('path', 'a'.repeat(91))).toBe(`101 path=${'a'.repeat(91)}\n`);
  });
});
