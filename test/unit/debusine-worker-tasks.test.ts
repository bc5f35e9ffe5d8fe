/**
 * What a Debusine 0.12.1 worker is given: only the tasks it lists in its dynamic metadata (Debusine's
 * can_run_on compares `<task>:version`, and a missing one means "cannot run"). Found by running the
 * real worker against the local stack: it was handed Conveyor's `sleep`, which it does not have, and
 * the request ended in error ("'sleep' is not a registered Worker task_name").
 */
import { schedule } from '../../shared/app/scheduler';
import type { Metadata } from '../../shared/domain/workers';
import { AMD64_METADATA, createSchedulingWorld, type SchedulingWorld } from '../support/scheduling';

/** The dynamic metadata the real 0.12.1 worker sent on this machine (PUT worker/dynamic-metadata/). */
const DEBUSINE_0_12_1_METADATA: Metadata = {
  'system:cpu_count': 2,
  'system:total_physical_memory': 25276157952,
  'system:worker_type': 'external',
  'system:host_architecture': 'amd64',
  'system:architectures': ['amd64'],
  'executor:incus-lxc:available': false,
  'executor:incus-vm:available': false,
  'executor:qemu:available': false,
  'executor:unshare:available': true,
  'assemblesignedsource:version': 1,
  'autopkgtest:version': 1,
  'autopkgtest:available': false,
  'blhc:version': 1,
  'debdiff:version': 1,
  'extractforsigning:version': 1,
  'lintian:version': 1,
  'makesourcepackageupload:version': 1,
  'mergeuploads:version': 1,
  'mmdebstrap:version': 1,
  'mmdebstrap:available': false,
  'noop:version': 1,
  'piuparts:version': 1,
  'sbuild:version': 1,
  'sbuild:available': false,
  'simplesystemimagebuild:version': 1,
  'simplesystemimagebuild:available': false,
};

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
});

describe("a Debusine worker's tasks", () => {
  it('gets noop but not sleep (the older request), which waits for a worker that lists it', async () => {
    // Two slots: one stays free, and still sleep is not given to it.
    const debusine = await w.addWorker('debusine.lan', { metadata: DEBUSINE_0_12_1_METADATA, concurrency: 2 });
    const sleep = await w.submit('sleep', { seconds: 1 });
    const noop = await w.submit('noop', { result: true });
    expect((await schedule(w.deps)).assigned).toEqual([{ workRequestId: noop.id, worker: debusine.name }]);
    expect((await w.deps.workRequests.get(sleep.id))!).toMatchObject({ status: 'pending', worker: null, result: '' });
    // A worker that lists sleep (as `conveyor worker` does) takes it.
    const conveyor = await w.addWorker('conveyor.lan', { metadata: { ...AMD64_METADATA, 'sleep:version': 1 } });
    expect((await schedule(w.deps)).assigned).toEqual([{ workRequestId: sleep.id, worker: conveyor.name }]);
  });
});
