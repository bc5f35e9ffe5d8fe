import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactPathFor, collectLocalFiles, downloadTargetPath, hashFile, prepareDownloadDirectory } from '../../cli/client/files';

describe('artifact paths of local files', () => {
  const cwd = '/home/me/build';

  it('keeps relative paths as given, without "." segments or doubled slashes', () => {
    expect(artifactPathFor('pkg_1.0.dsc', { cwd })).toBe('pkg_1.0.dsc');
    expect(artifactPathFor('./out//logs/build.log', { cwd })).toBe('out/logs/build.log');
  });

  it('refuses absolute paths and ".." without a base directory', () => {
    expect(() => artifactPathFor('/etc/passwd', { cwd })).toThrow(/absolute path.*--base-dir/);
    expect(() => artifactPathFor('../secret', { cwd })).toThrow(/contains ".."/);
    expect(() => artifactPathFor('a/../../b', { cwd })).toThrow(/contains ".."/);
  });

  it('strips the base directory, and refuses files outside it', () => {
    expect(artifactPathFor('/home/me/build/out/a.deb', { cwd, baseDir: '/home/me/build/out' })).toBe('a.deb');
    expect(artifactPathFor('out/sub/a.deb', { cwd, baseDir: 'out' })).toBe('sub/a.deb');
    expect(() => artifactPathFor('/home/me/other/a.deb', { cwd, baseDir: 'out' })).toThrow(/not inside the base directory/);
    expect(() => artifactPathFor('out', { cwd, baseDir: 'out' })).toThrow(/not inside the base directory/);
  });
});

describe('local files', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'conveyor-cli-files-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('expands directories recursively in a stable order', async () => {
    mkdirSync(join(root, 'dir', 'sub'), { recursive: true });
    writeFileSync(join(root, 'dir', 'b.txt'), 'b');
    writeFileSync(join(root, 'dir', 'a.txt'), 'a');
    writeFileSync(join(root, 'dir', 'sub', 'c.txt'), 'c');
    const files = await collectLocalFiles(['dir'], { cwd: root });
    expect(files.map((f) => f.path)).toEqual(['dir/a.txt', 'dir/b.txt', 'dir/sub/c.txt']);
    expect(files[0]!.localPath).toBe(join(root, 'dir', 'a.txt'));
  });

  it('refuses two files that would get the same artifact path, and missing files', async () => {
    mkdirSync(join(root, 'one'));
    mkdirSync(join(root, 'two'));
    writeFileSync(join(root, 'one', 'x'), '1');
    writeFileSync(join(root, 'two', 'x'), '2');
    await expect(collectLocalFiles(['one/x', join(root, 'two', 'x')], { cwd: root, baseDir: 'one' })).rejects.toThrow(/not inside the base directory/);
    await expect(collectLocalFiles(['missing'], { cwd: root })).rejects.toThrow(/missing: no such file/);
  });

  it('hashes files as a stream, across many chunks', async () => {
    const bytes = randomBytes(1024 * 1024 + 3);
    const file = join(root, 'big.bin');
    writeFileSync(file, bytes);
    await expect(hashFile(file)).resolves.toEqual({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });

    const empty = join(root, 'empty');
    writeFileSync(empty, '');
    await expect(hashFile(empty)).resolves.toEqual({ size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
  });
});

describe('download targets', () => {
  it('places files under the target directory', () => {
    expect(downloadTargetPath('/tmp/out', 'a/b.txt')).toBe('/tmp/out/a/b.txt');
  });

  it.each(['../evil', 'a/../../evil', '/etc/passwd', 'a//b', './a', ''])('refuses %j', (path) => {
    expect(() => downloadTargetPath('/tmp/out', path)).toThrow(/Refusing to download/);
  });

  it('refuses a directory that a symbolic link leads outside the target', async () => {
    const root = mkdtempSync(join(tmpdir(), 'conveyor-cli-links-'));
    try {
      mkdirSync(join(root, 'target'));
      mkdirSync(join(root, 'outside'));
      symlinkSync(join(root, 'outside'), join(root, 'target', 'link'));
      const target = downloadTargetPath(join(root, 'target'), 'link/file');
      await expect(prepareDownloadDirectory(join(root, 'target'), target)).rejects.toThrow(/symbolic link leads it outside/);
      await expect(prepareDownloadDirectory(join(root, 'target'), downloadTargetPath(join(root, 'target'), 'ok/file'))).resolves.toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
