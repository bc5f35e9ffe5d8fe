/**
 * `git-import`: the Worker task of a recurring git-import job (Launchpad's code-import worker for git).
 * Mirrors the repository with Debian's git (`git clone --mirror`, then `git fetch` to settle every ref),
 * compares the refs with those of the previous import and uploads a `conveyor:git-mirror` artifact
 * holding a bundle of the mirror and its refs. Launchpad's outcomes: SUCCESS when a ref moved,
 * SUCCESS_NOCHANGE when none did, FAILURE_FORBIDDEN for a host on the deny list,
 * FAILURE_REMOTE_BROKEN when the remote cannot be read, FAILURE_INVALID for a URL git cannot use.
 * The full log is uploaded as a `conveyor:recurring-log` artifact whatever the outcome.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import { logTail, type ResultStatus } from '../domain/recurring-jobs';
import { toolTask, type TaskContext, type TaskDefinition, type TaskOutcome } from './types';

const schema = z.strictObject({
  url: z.string().min(1).max(2000),
  /** Refs of the previous import (`refs/heads/main` → sha): equal refs mean SUCCESS_NOCHANGE. */
  previous_refs: z.record(z.string(), z.string()).default({}),
  /** Hosts the server refuses to import from (Launchpad's `blacklisted_hostnames`). */
  denied_hosts: z.array(z.string()).default([]),
});

export type GitImportData = z.output<typeof schema>;

/** The host a git URL reaches, or '' for local paths (`file://`). */
export function gitUrlHost(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
}

/** Parses `git for-each-ref --format='%(objectname) %(refname)'`. */
export function parseRefs(text: string): Record<string, string> {
  const refs: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{40,64}) (\S+)$/.exec(line.trim());
    if (m) refs[m[2]!] = m[1]!;
  }
  return refs;
}

export function sameRefs(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

function git(args: string[], cwd: string, signal: AbortSignal): Promise<{ code: number; output: string; stdout: string }> {
  // Required here: this module's definition is part of every task process; only a git-import run starts git.
  const { execFile } = require('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      { cwd, signal, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 128) : 0;
        resolve({ code, output: `${stdout}${stderr}`, stdout: String(stdout) });
      },
    );
  });
}

export const gitImportTask: TaskDefinition<GitImportData> = {
  ...toolTask('git-import', schema),
};

/**
 * Runs the task on a worker. Apart from the definition (the worker attaches it, shared/tasks/executors.ts)
 * so that the functions, which only validate and schedule tasks, do not bundle it.
 */
export async function executeGitImport(data: GitImportData, ctx: TaskContext): Promise<TaskOutcome> {
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    ctx.log(line);
  };
  const finish = async (status: ResultStatus, extra: Record<string, unknown> = {}): Promise<TaskOutcome> => {
    log(`git-import: ${status}`);
    const logPath = join(ctx.workDir, 'import.log');
    await writeFile(logPath, `${lines.join('\n')}\n`);
    const logArtifact = await ctx.uploadArtifact({ category: 'conveyor:recurring-log', data: { url: data.url, status }, files: [{ path: 'import.log', localPath: logPath }] });
    const success = status === 'SUCCESS' || status === 'SUCCESS_NOCHANGE' || status === 'SUCCESS_PARTIAL';
    return {
      result: success ? 'success' : 'failure',
      outputData: { recurring_status: status, recurring_log_artifact: logArtifact, recurring_log_tail: logTail(lines.join('\n')), ...extra },
    };
  };
  const run = async (args: string[], cwd = ctx.workDir) => {
    log(`$ git ${args.join(' ')}`);
    const res = await git(args, cwd, ctx.signal);
    for (const line of res.output.split('\n').filter(Boolean)) log(line);
    return res;
  };

  const host = gitUrlHost(data.url);
  if (host && data.denied_hosts.map((h) => h.toLowerCase()).includes(host)) {
    log(`the host ${host} is on the deny list`);
    return finish('FAILURE_FORBIDDEN');
  }
  if (!/^(file|git|https?|ssh):\/\//.test(data.url)) {
    log(`${data.url} is not a URL git-import can mirror`);
    return finish('FAILURE_INVALID');
  }
  const mirror = join(ctx.workDir, 'mirror.git');
  const cloned = await run(['clone', '--mirror', '--quiet', data.url, mirror]);
  if (cloned.code !== 0) return finish('FAILURE_REMOTE_BROKEN');
  const fetched = await run(['fetch', '--prune', '--quiet', 'origin'], mirror);
  if (fetched.code !== 0) return finish('FAILURE_REMOTE_BROKEN');
  const listed = await git(['for-each-ref', '--format=%(objectname) %(refname)'], mirror, ctx.signal);
  if (listed.code !== 0) return finish('FAILURE');
  const refs = parseRefs(listed.stdout);
  log(`${Object.keys(refs).length} ref(s)`);
  if (sameRefs(refs, data.previous_refs)) {
    log('no ref moved since the previous import');
    return finish('SUCCESS_NOCHANGE', { recurring_refs: refs });
  }
  const bundle = join(ctx.workDir, 'mirror.bundle');
  if (Object.keys(refs).length === 0) {
    log('the repository has no refs: nothing to bundle');
    return finish('SUCCESS', { recurring_refs: refs });
  }
  const bundled = await run(['bundle', 'create', '--quiet', bundle, '--all'], mirror);
  if (bundled.code !== 0) return finish('FAILURE');
  await writeFile(join(ctx.workDir, 'refs.json'), `${JSON.stringify(refs, null, 2)}\n`);
  const artifact = await ctx.uploadArtifact({
    category: 'conveyor:git-mirror',
    data: { url: data.url, refs },
    files: [
      { path: 'mirror.bundle', localPath: bundle },
      { path: 'refs.json', localPath: join(ctx.workDir, 'refs.json') },
    ],
  });
  log(`mirror uploaded as artifact ${artifact}`);
  return finish('SUCCESS', { recurring_refs: refs, recurring_output_artifact: artifact });
}
