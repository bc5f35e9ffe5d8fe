import { collectDynamicMetadata, debianArchitecture, selectWorkerTasks, type MachineProbes } from '../../cli/worker/metadata';
import { resolveWorkerSettings } from '../../cli/worker/command';
import { parseWorkerMessage } from '../../cli/worker/queue';
import { LineSplitter, LogTail } from '../../cli/worker/lines';
import { findTask, canRunOn } from '../../shared/tasks';

function probes(overrides: Partial<MachineProbes> & { commands?: Record<string, { ok: boolean; stdout: string }>; onPathNames?: string[] } = {}): MachineProbes {
  const commands = overrides.commands ?? {};
  return {
    arch: 'x64',
    cpuCount: () => 8,
    totalMemory: () => 16 * 2 ** 30,
    freeDisk: async () => 100 * 2 ** 30,
    onPath: async (name) => (overrides.onPathNames ?? []).includes(name),
    run: async (command) => commands[command] ?? { ok: false, stdout: '' },
    ...overrides,
  };
}

describe('worker metadata', () => {
  it('maps Node architectures to Debian ones', () => {
    expect(debianArchitecture('x64')).toBe('amd64');
    expect(debianArchitecture('arm64')).toBe('arm64');
    expect(debianArchitecture('ia32')).toBe('i386');
    expect(debianArchitecture('arm')).toBe('armhf');
    expect(debianArchitecture('ppc64')).toBe('ppc64el');
    expect(debianArchitecture('s390x')).toBe('s390x');
    expect(debianArchitecture('riscv64')).toBe('riscv64');
  });

  it('reports the machine, the executor and every runnable task, lintian only when it runs', async () => {
    const md = await collectDynamicMetadata(
      { workDir: '/tmp' },
      probes({
        onPathNames: ['unshare'],
        commands: {
          lintian: { ok: true, stdout: 'Lintian v2.116.3\n' },
          'dpkg-deb': { ok: true, stdout: 'Debian dpkg-deb 1.21\n' },
          git: { ok: true, stdout: 'git version 2.39.5\n' },
        },
      }),
    );
    expect(md).toEqual({
      'system:worker_type': 'external',
      'system:host_architecture': 'amd64',
      'system:architectures': ['amd64'],
      'system:cpu_count': 8,
      'system:total_physical_memory': 16 * 2 ** 30,
      'system:free_disk': 100 * 2 ** 30,
      'executor:unshare:available': true,
      'noop:available': true,
      'noop:version': 1,
      'sleep:available': true,
      'sleep:version': 1,
      'lintian:available': true,
      'lintian:version': 1,
      'mkdeb:available': true,
      'mkdeb:version': 1,
      'git-import:available': true,
      'git-import:version': 1,
    });
    // What the scheduler concludes from it.
    const lintian = findTask('Worker', 'lintian')!;
    const worker = { staticMetadata: {}, dynamicMetadata: md, workerType: 'external' as const };
    expect(canRunOn(lintian, { input: { binary_artifacts: [1] } }, worker)).toBe(true);
    expect(canRunOn(findTask('Worker', 'git-import')!, { url: 'file:///srv/r.git' }, worker)).toBe(true);
  });

  it('says lintian is unavailable when `lintian --version` fails, and adds i386 only when dpkg lists it', async () => {
    const md = await collectDynamicMetadata(
      { workDir: '/tmp' },
      probes({ commands: { dpkg: { ok: true, stdout: 'i386\narmhf\n' } } }),
    );
    expect(md['lintian:available']).toBe(false);
    expect(md['lintian:version']).toBeUndefined();
    // No git on this machine: git-import is not offered (the scheduler needs git-import:available).
    expect(md['git-import:available']).toBe(false);
    expect(canRunOn(findTask('Worker', 'git-import')!, { url: 'file:///srv/r.git' }, { staticMetadata: {}, dynamicMetadata: md, workerType: 'external' })).toBe(false);

    expect(md['executor:unshare:available']).toBe(false);
    expect(md['system:architectures']).toEqual(['amd64', 'i386']);
    const lintian = findTask('Worker', 'lintian')!;
    expect(canRunOn(lintian, { input: { binary_artifacts: [1] } }, { staticMetadata: {}, dynamicMetadata: md, workerType: 'external' })).toBe(false);

    const arm = await collectDynamicMetadata({ workDir: '/tmp' }, probes({ arch: 'arm64', commands: { dpkg: { ok: true, stdout: 'i386\n' } } }));
    expect(arm['system:host_architecture']).toBe('arm64');
    expect(arm['system:architectures']).toEqual(['arm64']);
  });

  it('restricts the tasks with --tasks (and an allowlist), refusing unknown names', async () => {
    const md = await collectDynamicMetadata({ workDir: '/tmp', onlyTasks: ['noop'] }, probes({ commands: { lintian: { ok: true, stdout: '' } } }));
    expect(md['noop:available']).toBe(true);
    expect(md['lintian:available']).toBeUndefined();
    expect(md.tasks_allowlist).toEqual(['noop']);
    expect(selectWorkerTasks().map((t) => t.name).sort()).toEqual(['git-import', 'lintian', 'mkdeb', 'noop', 'sleep']);
    expect(() => selectWorkerTasks(['noop', 'sbuild'])).toThrow('Unknown worker task(s): sbuild');
    // Server tasks are not worker tasks.
    expect(() => selectWorkerTasks(['servernoop'])).toThrow(/servernoop/);
  });
});

describe('worker settings', () => {
  const where = { env: {}, homeDir: '/home/w', cwd: '/srv', hostname: 'builder.example.org', tmpDir: '/tmp' };

  it('has the documented defaults', () => {
    const s = resolveWorkerSettings({ server: 'http://c.example/' }, where);
    expect(s).toMatchObject({
      server: 'http://c.example',
      fqdn: 'builder.example.org',
      tokenFile: '/home/w/.config/conveyor/worker-token',
      concurrency: 1,
      heartbeatIntervalMs: 30_000,
      keepAliveIntervalMs: 300_000,
      graceMs: 60_000,
      workRoot: '/tmp/conveyor-worker',
    });
    expect(s.activationToken).toBeUndefined();
    expect(s.onlyTasks).toBeUndefined();
  });

  it('takes flags, then environment variables', () => {
    const env = { CONVEYOR_SERVER: 'http://env.example', CONVEYOR_WORKER_TOKEN_FILE: '/etc/conveyor/token', CONVEYOR_ACTIVATION_TOKEN: 'act', CONVEYOR_HEARTBEAT_INTERVAL: '5' };
    expect(resolveWorkerSettings({}, { ...where, env })).toMatchObject({
      server: 'http://env.example',
      tokenFile: '/etc/conveyor/token',
      activationToken: 'act',
      heartbeatIntervalMs: 5000,
    });
    expect(
      resolveWorkerSettings({ server: 'http://flag.example', tokenFile: 'tok', concurrency: '3', heartbeatInterval: '0.5', workDir: 'w', tasks: 'noop, lintian', grace: '0', fqdn: 'x.example' }, { ...where, env }),
    ).toMatchObject({ server: 'http://flag.example', tokenFile: '/srv/tok', concurrency: 3, heartbeatIntervalMs: 500, workRoot: '/srv/w', onlyTasks: ['noop', 'lintian'], graceMs: 0, fqdn: 'x.example' });
  });

  it('refuses bad values', () => {
    expect(() => resolveWorkerSettings({ server: 'http://c', concurrency: '0' }, where)).toThrow('Invalid --concurrency "0"');
    expect(() => resolveWorkerSettings({ server: 'http://c', concurrency: '1.5' }, where)).toThrow('Invalid --concurrency');
    expect(() => resolveWorkerSettings({ server: 'http://c', heartbeatInterval: 'soon' }, where)).toThrow('Invalid --heartbeat-interval');
    expect(() => resolveWorkerSettings({ server: 'http://c', grace: '-1' }, where)).toThrow('Invalid --grace');
    expect(() => resolveWorkerSettings({ server: 'http://c', tasks: 'bogus' }, where)).toThrow('Unknown worker task(s): bogus');
    expect(() => resolveWorkerSettings({}, where)).toThrow(/No Conveyor server configured/);
  });
});

describe('queue messages and log lines', () => {
  it('parses the documented messages and refuses others', () => {
    expect(parseWorkerMessage('{"type":"work_request_available","work_request_id":4}')).toEqual({ type: 'work_request_available', workRequestId: 4 });
    expect(parseWorkerMessage('{"type":"abort","workRequestId":5}')).toEqual({ type: 'abort', workRequestId: 5 });
    expect(parseWorkerMessage('{"type":"reboot","work_request_id":4}')).toBeUndefined();
    expect(parseWorkerMessage('{"type":"abort"}')).toBeUndefined();
    expect(parseWorkerMessage('not json')).toBeUndefined();
  });

  it('keeps the last five lines, and splits chunks into lines', () => {
    const tail = new LogTail(5);
    const split = new LineSplitter((line) => tail.push(line));
    split.push('one\ntwo\r\nthr');
    split.push('ee\nfour\nfive\nsix\nseven');
    expect(tail.lines()).toEqual(['two', 'three', 'four', 'five', 'six']);
    split.flush();
    expect(tail.lines()).toEqual(['three', 'four', 'five', 'six', 'seven']);
    tail.push('x'.repeat(5000));
    expect(tail.lines()[4]!.length).toBe(2000);
  });
});
