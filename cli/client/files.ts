/**
 * Local files on either side of a transfer: which artifact path a local file gets on
 * upload, where an artifact path lands on download, and streaming SHA-256.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { filePathProblem } from '../../shared/domain/paths';

export interface LocalFile {
  /** The file's path inside the artifact (POSIX, relative). */
  path: string;
  /** Where the bytes are on this machine (absolute). */
  localPath: string;
}

export interface HashedFile extends LocalFile {
  size: number;
  sha256: string;
}

/**
 * The artifact path of one command-line argument: the path as given, or relative to
 * `baseDir` when one is given. Refused: absolute paths without a base dir, `..`
 * segments, and files outside the base dir, since such paths could escape the
 * directory of whoever downloads the artifact.
 */
export function artifactPathFor(given: string, opts: { cwd: string; baseDir?: string }): string {
  let candidate: string;
  if (opts.baseDir !== undefined) {
    const base = resolve(opts.cwd, opts.baseDir);
    candidate = relative(base, resolve(opts.cwd, given));
    if (candidate === '' || candidate.startsWith('..') || isAbsolute(candidate)) {
      throw new Error(`${given} is not inside the base directory ${opts.baseDir}`);
    }
  } else {
    refuseEscapingArgument(given);
    candidate = given;
  }
  const posix = candidate.split(sep).join('/');
  // "./a//b/" and "a/./b" name the same file as "a/b"; only the meaningful segments are kept.
  const normalized = posix
    .split('/')
    .filter((segment) => segment !== '' && segment !== '.')
    .join('/');
  const problem = filePathProblem(normalized);
  if (problem) throw new Error(`${given}: artifact file path ${problem}`);
  return normalized;
}

/** Without a base directory, the argument itself becomes the artifact path: it must stay relative and below. */
function refuseEscapingArgument(given: string): void {
  if (isAbsolute(given)) {
    throw new Error(`${given} is an absolute path: give a relative path, or --base-dir to say which prefix to strip`);
  }
  if (given.split(sep).join('/').split('/').includes('..')) {
    throw new Error(`${given} contains "..": give a path below the current directory, or use --base-dir`);
  }
}

/** Every regular file named on the command line, directories expanded recursively, in a stable order. */
export async function collectLocalFiles(args: string[], opts: { cwd: string; baseDir?: string }): Promise<LocalFile[]> {
  if (args.length === 0) return [];
  const found: LocalFile[] = [];
  const byPath = new Map<string, string>();
  const add = (given: string, localPath: string): void => {
    const path = artifactPathFor(given, opts);
    const previous = byPath.get(path);
    if (previous !== undefined && previous !== localPath) {
      throw new Error(`Two files would both be stored as "${path}": ${previous} and ${localPath}`);
    }
    if (previous === undefined) {
      byPath.set(path, localPath);
      found.push({ path, localPath });
    }
  };
  const visit = async (given: string): Promise<void> => {
    // Checked before looking at the disk, so the error says what is wrong with the argument.
    if (opts.baseDir === undefined) refuseEscapingArgument(given);
    const localPath = resolve(opts.cwd, given);
    let info;
    try {
      info = await stat(localPath);
    } catch {
      throw new Error(`${given}: no such file or directory`);
    }
    if (info.isDirectory()) {
      const entries = (await readdir(localPath)).sort();
      for (const entry of entries) await visit(join(given, entry));
    } else if (info.isFile()) {
      add(given, localPath);
    } else {
      throw new Error(`${given} is neither a regular file nor a directory`);
    }
  };
  for (const arg of args) await visit(arg);
  return found;
}

/** Size and SHA-256 of a file, read as a stream (files may be far larger than memory). */
export async function hashFile(localPath: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(localPath)) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    size += bytes.length;
  }
  return { size, sha256: hash.digest('hex') };
}

export async function hashFiles(files: LocalFile[]): Promise<HashedFile[]> {
  const hashed: HashedFile[] = [];
  for (const file of files) hashed.push({ ...file, ...(await hashFile(file.localPath)) });
  return hashed;
}

/**
 * Where an artifact file is written on download. The server validates paths too, but
 * a hostile or buggy server must not make the client write outside the target.
 */
export function downloadTargetPath(targetDir: string, artifactPath: string): string {
  const problem = filePathProblem(artifactPath);
  if (problem) throw new Error(`Refusing to download "${artifactPath}": file path ${problem}`);
  const root = resolve(targetDir);
  const target = resolve(root, ...artifactPath.split('/'));
  if (!target.startsWith(root + sep)) throw new Error(`Refusing to download "${artifactPath}": it would be written outside ${root}`);
  return target;
}

/** Creates the parent directory of a download and checks that no symlink leads it outside the target. */
export async function prepareDownloadDirectory(targetDir: string, targetPath: string): Promise<void> {
  const parent = resolve(targetPath, '..');
  await mkdir(parent, { recursive: true });
  const realRoot = await realpath(resolve(targetDir));
  const realParent = await realpath(parent);
  if (realParent !== realRoot && !realParent.startsWith(realRoot + sep)) {
    throw new Error(`Refusing to write ${targetPath}: a symbolic link leads it outside ${realRoot}`);
  }
}
