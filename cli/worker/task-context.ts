/**
 * The TaskContext a Worker task gets inside the task subprocess: artifact downloads and
 * uploads through the existing client code (with the worker's token), and programs whose
 * output goes to the task's log.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { TaskContext } from '../../shared/tasks';
import type { ConveyorApi } from '../client/api';
import type { UploadTuning } from '../client/upload';
import { LineSplitter } from './lines';

/*
 * Loaded by the context's methods on first use, not with the task process: a noop task downloads,
 * uploads and runs nothing, and these (child processes, hashing, the transfer code) were most of what
 * a task process loaded before running its task (issue 12: a noop task process in tens of ms).
 */
const childProcess = (): typeof import('node:child_process') => require('node:child_process');
const transfers = () => ({
  ...(require('../client/download') as typeof import('../client/download')),
  ...(require('../client/files') as typeof import('../client/files')),
  ...(require('../client/progress') as typeof import('../client/progress')),
  ...(require('../client/upload') as typeof import('../client/upload')),
});

export interface TaskContextOptions {
  api: ConveyorApi;
  /** The request's dynamic task data (lookups the server resolved at assignment). */
  dynamicData?: Record<string, unknown>;
  workRequestId: number;
  /** The task's input artifacts: every output gets a `built-using` relation to each. */
  inputArtifacts: number[];
  workDir: string;
  log: (line: string) => void;
  signal: AbortSignal;
  uploadTuning?: UploadTuning;
  env?: NodeJS.ProcessEnv;
}

export function createTaskContext(opts: TaskContextOptions): TaskContext {
  const { api, workRequestId, workDir, log, signal } = opts;
  const inputs = [...new Set(opts.inputArtifacts)];
  return {
    dynamicData: opts.dynamicData ?? {},
    workDir,
    log,
    signal,

    async downloadArtifact(id, dir) {
      const target = resolve(workDir, dir);
      await mkdir(target, { recursive: true });
      const { downloadArtifactFiles, downloadTargetPath, silentProgress } = transfers();
      const artifact = await api.getArtifact(id);
      // Each file is checked against its SHA-256 before it is moved into place.
      await downloadArtifactFiles(api, artifact, target, silentProgress);
      const files = Object.keys(artifact.files)
        .sort()
        .map((path) => ({ path, localPath: downloadTargetPath(target, path) }));
      log(`downloaded artifact ${id} (${artifact.category}, ${files.length} file(s))`);
      return { category: artifact.category, data: artifact.data, files };
    },

    async uploadArtifact(output) {
      const { hashFiles, uploadFiles, silentProgress, DEFAULT_UPLOAD_TUNING } = transfers();
      const hashed = await hashFiles(output.files.map((f) => ({ path: f.path, localPath: resolve(workDir, f.localPath) })));
      const created = await api.createArtifact({
        category: output.category,
        data: output.data,
        files: Object.fromEntries(hashed.map((f) => [f.path, { type: 'file' as const, size: f.size, checksums: { sha256: f.sha256 } }])),
        work_request: workRequestId,
      });
      const pending = new Set(created.files_to_upload);
      await uploadFiles(api, created.id, hashed.filter((f) => pending.has(f.path)), silentProgress, opts.uploadTuning ?? DEFAULT_UPLOAD_TUNING);
      for (const input of inputs) await api.createRelation(created.id, input, 'built-using');
      log(`uploaded artifact ${created.id} (${output.category}, ${hashed.length} file(s))`);
      return created.id;
    },

    run(command, args, runOpts) {
      return new Promise((resolvePromise, reject) => {
        const child = childProcess().spawn(command, args, {
          cwd: runOpts?.cwd ?? workDir,
          env: { ...(opts.env ?? process.env), ...(runOpts?.env ?? {}) },
          stdio: ['ignore', 'pipe', 'pipe'],
          signal,
        });
        let stdout = '';
        const outLines = new LineSplitter(log);
        const errLines = new LineSplitter(log);
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString('utf8');
          outLines.push(chunk);
        });
        child.stderr.on('data', (chunk: Buffer) => errLines.push(chunk));
        child.on('error', (err) => reject(new Error(`cannot run ${command}: ${err.message}`)));
        child.on('close', (code, sig) => {
          outLines.flush();
          errLines.flush();
          resolvePromise({ exitCode: code ?? 128 + signalNumber(sig), stdout });
        });
      });
    },
  };
}

function signalNumber(sig: NodeJS.Signals | null): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return sig ? (table[sig] ?? 0) : 0;
}
