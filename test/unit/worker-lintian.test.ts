/** The lintian task's execute with a fake TaskContext: canned lintian output, recorded uploads. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutputArtifact, TaskContext } from '../../shared/tasks';
import { validateTaskData } from '../../shared/tasks';
import { runnableTask } from '../../shared/tasks/executors';

const OUTPUT: Record<string, string> = {
  'hello_1.0-1.dsc': 'W: hello source: ancient-standards-version 3.9.8 (released 2016-04-06)\nI: hello source: out-of-date-standards-version\n',
  'hello_1.0-1_amd64.deb': 'E: hello: binary-without-manpage usr/bin/hello\nN: 1 tag overridden\n',
  'hello-doc_1.0-1_all.deb': 'P: hello-doc: no-homepage-field\n',
};

function fakeContext(workDir: string, runExitCode = 0) {
  const runs: { command: string; args: string[] }[] = [];
  const uploads: OutputArtifact[] = [];
  const logs: string[] = [];
  const artifacts: Record<number, { category: string; files: string[] }> = {
    1: { category: 'debian:source-package', files: ['hello_1.0-1.dsc', 'hello_1.0-1.debian.tar.xz', 'hello_1.0.orig.tar.gz'] },
    2: { category: 'debian:binary-package', files: ['hello_1.0-1_amd64.deb'] },
    3: { category: 'debian:binary-packages', files: ['hello-doc_1.0-1_all.deb', 'hello_1.0-1_amd64.buildinfo'] },
    4: { category: 'debian:upload', files: ['hello.changes'] },
  };
  const ctx: TaskContext = {
    dynamicData: {},
    workDir,
    signal: new AbortController().signal,
    log: (line) => logs.push(line),
    async downloadArtifact(id, dir) {
      const a = artifacts[id];
      if (!a) throw new Error(`no artifact ${id}`);
      return { category: a.category, data: {}, files: a.files.map((path) => ({ path, localPath: join(dir, path) })) };
    },
    async uploadArtifact(artifact) {
      uploads.push(artifact);
      return 99;
    },
    async run(command, args) {
      runs.push({ command, args });
      const target = args[args.length - 1]!;
      const name = target.slice(target.lastIndexOf('/') + 1);
      return { exitCode: runExitCode, stdout: OUTPUT[name] ?? '' };
    },
  };
  return { ctx, runs, uploads, logs };
}

describe('lintian task (execute)', () => {
  const lintian = runnableTask('Worker', 'lintian')!;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-lintian-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const data = (d: Record<string, unknown>) => validateTaskData(lintian, d);

  it('runs lintian on the .dsc and every .deb, records the tags in a debian:lintian artifact and fails on errors', async () => {
    const { ctx, runs, uploads } = fakeContext(dir);
    const outcome = await lintian.execute!(data({ input: { source_artifact: 1, binary_artifacts: [2, 3] }, exclude_tags: ['no-homepage-field'] }), ctx);
    expect(outcome).toEqual({ result: 'failure' });
    expect(runs.map((r) => r.command)).toEqual(['lintian', 'lintian', 'lintian']);
    expect(runs.map((r) => r.args[r.args.length - 1])).toEqual([
      join(dir, 'artifact-1', 'hello_1.0-1.dsc'),
      join(dir, 'artifact-2', 'hello_1.0-1_amd64.deb'),
      join(dir, 'artifact-3', 'hello-doc_1.0-1_all.deb'),
    ]);
    expect(runs[0]!.args).toEqual(expect.arrayContaining(['--suppress-tags', 'no-homepage-field']));
    expect(runs[0]!.args).not.toContain('--tags');

    expect(uploads).toHaveLength(1);
    const [report] = uploads;
    expect(report!.category).toBe('debian:lintian');
    expect(report!.files).toEqual([{ path: 'lintian.txt', localPath: join(dir, 'lintian.txt') }]);
    expect(readFileSync(join(dir, 'lintian.txt'), 'utf8')).toBe(Object.values(OUTPUT).join(''));
    expect(report!.data).toMatchObject({
      summary: {
        tags_count_by_severity: { error: 1, warning: 1, info: 1, pedantic: 1, experimental: 0, overridden: 0 },
        tags_found: ['ancient-standards-version', 'binary-without-manpage', 'no-homepage-field', 'out-of-date-standards-version'],
      },
      target_distribution: 'debian:unstable',
    });
    expect((report!.data.tags as unknown[]).length).toBe(4);
    expect(lintian.inputArtifacts!(data({ input: { source_artifact: 1, binary_artifacts: [2, 3] } }), {})).toEqual([1, 2, 3]);
    // Lookups resolved by the server at assignment win over the data.
    expect(lintian.inputArtifacts!(data({ input: { binary_artifacts: ['internal@collections/name:build-amd64'] } }), { input_source_artifact_id: null, input_binary_artifacts_ids: [7] })).toEqual([7]);
  });

  it('honours fail_on_severity and the analysis switches', async () => {
    const none = fakeContext(dir);
    await expect(lintian.execute!(data({ input: { binary_artifacts: [2] }, fail_on_severity: 'none' }), none.ctx)).resolves.toEqual({ result: 'success' });

    const warnings = fakeContext(dir, 0);
    const onlyAll = data({ input: { source_artifact: 1, binary_artifacts: [2, 3] }, output: { source_analysis: false, binary_any_analysis: false }, fail_on_severity: 'pedantic', include_tags: ['no-homepage-field'] });
    await expect(lintian.execute!(onlyAll, warnings.ctx)).resolves.toEqual({ result: 'failure' });
    expect(warnings.runs.map((r) => r.args[r.args.length - 1])).toEqual([join(dir, 'artifact-3', 'hello-doc_1.0-1_all.deb')]);
    expect(warnings.runs[0]!.args).toEqual(expect.arrayContaining(['--tags', 'no-homepage-field']));

    const clean = fakeContext(dir, 0);
    await expect(lintian.execute!(data({ input: { binary_artifacts: [3] }, output: { binary_all_analysis: true }, fail_on_severity: 'warning' }), clean.ctx)).resolves.toEqual({ result: 'success' });
  });

  it('fails when lintian cannot run or the input is not a package', async () => {
    const broken = fakeContext(dir, 1);
    await expect(lintian.execute!(data({ input: { binary_artifacts: [2] } }), broken.ctx)).rejects.toThrow(/lintian exited with 1/);
    const wrong = fakeContext(dir);
    await expect(lintian.execute!(data({ input: { binary_artifacts: [4] } }), wrong.ctx)).rejects.toThrow(/debian:upload/);
    expect(wrong.uploads).toHaveLength(0);
  });
});
