/** What the client commands reach the outside world through: environment, files, output, network. */
import { homedir } from 'node:os';
import type { FetchFn } from './api';
import type { ProgressStream } from './progress';
import { DEFAULT_UPLOAD_TUNING, type UploadTuning } from './upload';

export interface ClientContext {
  env: NodeJS.ProcessEnv;
  cwd: () => string;
  homeDir: string;
  stdout: { write(chunk: string): unknown };
  stderr: ProgressStream;
  fetch: FetchFn;
  uploadTuning: UploadTuning;
}

export function defaultClientContext(): ClientContext {
  return {
    env: process.env,
    cwd: () => process.cwd(),
    homeDir: homedir(),
    stdout: process.stdout,
    stderr: process.stderr,
    fetch: (input, init) => fetch(input, init),
    uploadTuning: DEFAULT_UPLOAD_TUNING,
  };
}
