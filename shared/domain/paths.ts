import { ValidationError } from './errors';

export const MAX_FILE_PATH_LENGTH = 500;

/**
 * Why a file path inside an artifact is unacceptable, or undefined when it is fine.
 * Paths are relative POSIX paths: they end up as tar members and local file names
 * on download, so anything that could escape the target directory is refused.
 */
export function filePathProblem(path: string): string | undefined {
  if (path.length === 0) return 'must not be empty';
  if (path.length > MAX_FILE_PATH_LENGTH) return `must be at most ${MAX_FILE_PATH_LENGTH} characters`;
  if (path.includes('\0')) return 'must not contain a NUL character';
  if (path.startsWith('/')) return 'must be relative (no leading "/")';
  const segments = path.split('/');
  if (segments.includes('..')) return 'must not contain a ".." segment';
  if (segments.some((s) => s === '')) return 'must not contain empty segments ("//" or a trailing "/")';
  if (segments.some((s) => s === '.')) return 'must not contain a "." segment';
  return undefined;
}

export function assertValidFilePath(path: string, field = 'path'): void {
  const problem = filePathProblem(path);
  if (problem) throw ValidationError.field(field, `file path ${problem}`, 'Invalid file path');
}
