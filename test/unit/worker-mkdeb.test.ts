/**
 * The mkdeb task builds a lintian-clean package: its execute runs the real dpkg-deb (through a
 * TaskContext whose `run` spawns the command), then Debian's lintian, at the lintian task's own
 * display level, finds nothing but the two overrides the package declares.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutputArtifact, TaskContext } from '../../shared/tasks';
import { validateTaskData } from '../../shared/tasks';
import { runnableTask } from '../../shared/tasks/executors';
import { parseLintianOutput } from '../../shared/tasks/lintian';

jest.setTimeout(120_000);

function realContext(workDir: string): { ctx: TaskContext; uploads: OutputArtifact[] } {
  const uploads: OutputArtifact[] = [];
  const ctx: TaskContext = {
    dynamicData: {},
    workDir,
    signal: new AbortController().signal,
    log: () => undefined,
    async downloadArtifact() {
      throw new Error('mkdeb downloads nothing');
    },
    async uploadArtifact(artifact) {
      uploads.push(artifact);
      return 7;
    },
    async run(command, args) {
      const done = spawnSync(command, args, { encoding: 'utf8' });
      return { exitCode: done.status ?? 1, stdout: done.stdout };
    },
  };
  return { ctx, uploads };
}

describe('mkdeb', () => {
  const task = runnableTask('Worker', 'mkdeb')!;

  it('refuses a description with a newline (it would start a new control field), and a long one', () => {
    expect(() => validateTaskData(task, { package: 'hello', version: '1.0-1', architecture: 'amd64', description: 'one\nInjected: yes' })).toThrow(
      /description/,
    );
    expect(() => validateTaskData(task, { package: 'hello', version: '1.0-1', architecture: 'amd64', description: 'x'.repeat(81) })).toThrow(/description/);
  });

  it('builds a package in which lintian finds no error, warning, info or pedantic tag', async () => {
    const workDir = mkdtempSync(join(tmpdir(), 'conveyor-mkdeb-'));
    try {
      const { ctx, uploads } = realContext(workDir);
      const data = validateTaskData(task, { package: 'hello', version: '1.0-1', architecture: 'amd64' });
      await expect(task.execute!(data, ctx)).resolves.toMatchObject({ result: 'success' });
      expect(uploads).toHaveLength(1);
      const deb = uploads[0]!.files[0]!.localPath;
      const lintian = spawnSync('lintian', ['--fail-on', 'none', '--display-level', '>=pedantic', '--display-experimental', '--show-overrides', deb], {
        encoding: 'utf8',
      });
      expect(lintian.status).toBe(0);
      const tags = parseLintianOutput(lintian.stdout);
      expect(tags.filter((t) => t.severity !== 'overridden')).toEqual([]);
      expect(tags.map((t) => t.tag).sort()).toEqual(['initial-upload-closes-no-bugs', 'package-contains-no-arch-dependent-files']);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
