/**
 * The git-import task against real git repositories on disk (file://): imports, then SUCCESS_NOCHANGE,
 * then SUCCESS after a new commit; FAILURE_REMOTE_BROKEN for a missing remote, FAILURE_FORBIDDEN for
 * a denied host. Uploads are captured by a fake task context.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executeGitImport, gitImportTask, parseRefs, sameRefs } from '../../shared/tasks/git-import';
import type { OutputArtifact, TaskContext } from '../../shared/tasks/types';

let root: string;
const uploads: { artifact: OutputArtifact; contents: Record<string, Buffer> }[] = [];

function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } }).toString();
}

function context(): TaskContext {
  const workDir = mkdtempSync(join(root, 'work-'));
  return {
    dynamicData: {},
    workDir,
    log: () => undefined,
    signal: new AbortController().signal,
    downloadArtifact: async () => {
      throw new Error('not used');
    },
    uploadArtifact: async (artifact) => {
      uploads.push({ artifact, contents: Object.fromEntries(artifact.files.map((f) => [f.path, readFileSync(f.localPath)])) });
      return uploads.length;
    },
    run: async () => ({ exitCode: 0, stdout: '' }),
  };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'git-import-'));
  sh(root, 'init', '--quiet', '--initial-branch=main', 'repo');
  writeFileSync(join(root, 'repo', 'README'), 'one\n');
  sh(join(root, 'repo'), 'add', 'README');
  sh(join(root, 'repo'), 'commit', '--quiet', '-m', 'one');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));
// Real git processes: slow on a busy 2-core machine.
jest.setTimeout(60_000);

test('imports, then SUCCESS_NOCHANGE, then SUCCESS after a new commit', async () => {
  const url = `file://${join(root, 'repo')}`;
  const first = await executeGitImport(gitImportTask.schema.parse({ url }), context());
  expect(first.result).toBe('success');
  expect(first.outputData).toMatchObject({ recurring_status: 'SUCCESS', recurring_output_artifact: expect.any(Number), recurring_log_artifact: expect.any(Number) });
  const refs = first.outputData!['recurring_refs'] as Record<string, string>;
  expect(Object.keys(refs)).toEqual(['refs/heads/main']);
  const mirror = uploads.find((u) => u.artifact.category === 'conveyor:git-mirror')!;
  expect(mirror.artifact.data).toEqual({ url, refs });
  expect(mirror.contents['mirror.bundle']!.subarray(0, 16).toString()).toMatch(/^# v[23] git bundle/);

  const same = await executeGitImport(gitImportTask.schema.parse({ url, previous_refs: refs }), context());
  expect(same.outputData).toMatchObject({ recurring_status: 'SUCCESS_NOCHANGE', recurring_refs: refs });

  writeFileSync(join(root, 'repo', 'README'), 'two\n');
  sh(join(root, 'repo'), 'commit', '--quiet', '-am', 'two');
  const moved = await executeGitImport(gitImportTask.schema.parse({ url, previous_refs: refs }), context());
  expect(moved.outputData).toMatchObject({ recurring_status: 'SUCCESS' });
  expect((moved.outputData!['recurring_refs'] as Record<string, string>)['refs/heads/main']).not.toBe(refs['refs/heads/main']);
});

test('an unreachable remote is FAILURE_REMOTE_BROKEN; a denied host FAILURE_FORBIDDEN; both keep a log', async () => {
  const broken = await executeGitImport(gitImportTask.schema.parse({ url: `file://${join(root, 'missing')}` }), context());
  expect(broken).toMatchObject({ result: 'failure', outputData: { recurring_status: 'FAILURE_REMOTE_BROKEN' } });
  const log = uploads.at(-1)!;
  expect(log.artifact.category).toBe('conveyor:recurring-log');
  expect(log.contents['import.log']!.toString()).toMatch(/git clone --mirror/);
  const denied = await executeGitImport(gitImportTask.schema.parse({ url: 'https://evil.example.org/r.git', denied_hosts: ['EVIL.example.org'] }), context());
  expect(denied.outputData).toMatchObject({ recurring_status: 'FAILURE_FORBIDDEN' });
});

test('refs parse and compare', () => {
  const a = parseRefs(`${'a'.repeat(40)} refs/heads/main\n${'b'.repeat(40)} refs/tags/v1\n`);
  expect(a).toEqual({ 'refs/heads/main': 'a'.repeat(40), 'refs/tags/v1': 'b'.repeat(40) });
  expect(sameRefs(a, { ...a })).toBe(true);
  expect(sameRefs(a, { 'refs/heads/main': 'a'.repeat(40) })).toBe(false);
});
