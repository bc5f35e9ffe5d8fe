/**
 * The dynamic metadata a worker reports (PUT worker/dynamic-metadata/): what this machine is
 * and which tasks it can run. The scheduler matches it against each task's requirements
 * (shared/tasks/index.ts `cannotRunReason`); static metadata set by an admin wins over it.
 */
import { execFile } from 'node:child_process';
import { access, constants, statfs } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { delimiter, join } from 'node:path';
import { findTask, metadataPrefix, type TaskDefinition } from '../../shared/tasks';
import { allRunnableTasks } from '../../shared/tasks/executors';

/** Node's `process.arch` → Debian architecture name. */
export const DEBIAN_ARCHITECTURES: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  ia32: 'i386',
  arm: 'armhf',
  ppc64: 'ppc64el',
  s390x: 's390x',
  riscv64: 'riscv64',
};

export function debianArchitecture(nodeArch: string): string {
  return DEBIAN_ARCHITECTURES[nodeArch] ?? nodeArch;
}

/** What the metadata is read from; tests replace it. */
export interface MachineProbes {
  arch: string;
  cpuCount(): number;
  totalMemory(): number;
  /** Bytes free (for an unprivileged user) on the filesystem holding `dir`. */
  freeDisk(dir: string): Promise<number>;
  /** Whether an executable of that name is on PATH. */
  onPath(command: string): Promise<boolean>;
  /** Runs a command briefly; `ok` when it exits 0. */
  run(command: string, args: string[]): Promise<{ ok: boolean; stdout: string }>;
}

export function machineProbes(env: NodeJS.ProcessEnv = process.env): MachineProbes {
  return {
    arch: process.arch,
    cpuCount: () => availableParallelism(),
    totalMemory: () => totalmem(),
    freeDisk: async (dir) => {
      const s = await statfs(dir);
      return s.bavail * s.bsize;
    },
    onPath: async (command) => {
      for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
        try {
          await access(join(dir, command), constants.X_OK);
          return true;
        } catch {
          // not in this directory
        }
      }
      return false;
    },
    run: (command, args) =>
      new Promise((resolve) => {
        execFile(command, args, { timeout: 30_000, encoding: 'utf8' }, (err, stdout) => resolve({ ok: !err, stdout: stdout ?? '' }));
      }),
  };
}

/**
 * Checks that a task's tool is installed, for tasks that need one. A task with `execute` and no
 * probe here is always available.
 */
export const TASK_PROBES: Readonly<Record<string, (probes: MachineProbes) => Promise<boolean>>> = {
  lintian: async (probes) => (await probes.run('lintian', ['--version'])).ok,
  mkdeb: async (probes) => (await probes.run('dpkg-deb', ['--version'])).ok,
  // Without git every git-import run would fail as FAILURE on this machine and back the job off for nothing.
  'git-import': async (probes) => (await probes.run('git', ['--version'])).ok,
};

/** The Worker tasks this worker may run: every one with an `execute`, or those named by `--tasks`. */
export function selectWorkerTasks(only?: string[]): TaskDefinition<any>[] {
  const runnable = allRunnableTasks().filter((t) => t.taskType === 'Worker' && typeof t.execute === 'function');
  if (!only) return runnable;
  const unknown = only.filter((name) => !runnable.some((t) => t.name === name));
  if (unknown.length) {
    throw new Error(`Unknown worker task(s): ${unknown.join(', ')} (this worker can run: ${runnable.map((t) => t.name).join(', ') || 'none'})`);
  }
  return runnable.filter((t) => only.includes(t.name));
}

export interface MetadataOptions {
  workDir: string;
  /** The tasks given with `--tasks`, if any (also sent as `tasks_allowlist`). */
  onlyTasks?: string[];
}

export async function collectDynamicMetadata(opts: MetadataOptions, probes: MachineProbes = machineProbes()): Promise<Record<string, unknown>> {
  const host = debianArchitecture(probes.arch);
  const architectures = [host];
  if (host === 'amd64') {
    const foreign = await probes.run('dpkg', ['--print-foreign-architectures']);
    if (foreign.ok && foreign.stdout.split(/\s+/).includes('i386')) architectures.push('i386');
  }
  const metadata: Record<string, unknown> = {
    'system:worker_type': 'external',
    'system:host_architecture': host,
    'system:architectures': architectures,
    'system:cpu_count': probes.cpuCount(),
    'system:total_physical_memory': probes.totalMemory(),
    'system:free_disk': await probes.freeDisk(opts.workDir).catch(() => 0),
    'executor:unshare:available': await probes.onPath('unshare'),
  };
  for (const task of selectWorkerTasks(opts.onlyTasks)) {
    const probe = TASK_PROBES[task.name];
    const prefix = metadataPrefix(task);
    if (probe && !(await probe(probes))) {
      metadata[`${prefix}available`] = false;
      continue;
    }
    metadata[`${prefix}available`] = true;
    metadata[`${prefix}version`] = task.version;
  }
  // Tasks without a tool requirement (noop) would otherwise still be offered: the allowlist keeps them away.
  if (opts.onlyTasks) metadata.tasks_allowlist = [...opts.onlyTasks];
  return metadata;
}

/** Whether a Worker task may call the server: unknown tasks are assumed to (the task process then reports them). */
export function taskUsesServer(taskName: string): boolean {
  return findTask('Worker', taskName)?.usesServer !== false;
}
