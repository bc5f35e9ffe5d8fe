/**
 * The worker's own token: 64 hex characters it generates once, registers with the server
 * (POST worker/register/) and keeps in a file readable by its user only.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export function defaultTokenFile(env: NodeJS.ProcessEnv, homeDir: string): string {
  if (env.CONVEYOR_WORKER_TOKEN_FILE) return env.CONVEYOR_WORKER_TOKEN_FILE;
  return join(env.XDG_CONFIG_HOME || join(homeDir, '.config'), 'conveyor', 'worker-token');
}

export function generateWorkerKey(): string {
  return randomBytes(32).toString('hex');
}

/** The key in the file, or undefined when there is no file yet. */
export async function readTokenFile(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`Cannot read the worker token file ${path}: ${(err as Error).message}`);
  }
  const key = text.trim();
  if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`The worker token file ${path} does not hold a 64-hex-digit key; delete it to register again`);
  return key;
}

/** Writes the key atomically with mode 0600 (its directory 0700 when created). */
export async function writeTokenFile(path: string, key: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${key}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}
