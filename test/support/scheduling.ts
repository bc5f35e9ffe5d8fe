/** A memory-backed world with workers, for scheduler and lifecycle tests. */
import { createWorld, type World } from './world';
import { registerWorker, updateDynamicMetadata, enableWorker } from '../../shared/app/workers';
import { authenticate, type Caller } from '../../shared/app/auth';
import { createWorkRequest } from '../../shared/app/work-requests';
import { generateTokenKey } from '../../shared/app/admin';
import type { WorkRequest } from '../../shared/domain/work-requests';
import type { Metadata } from '../../shared/domain/workers';

export const AMD64_METADATA: Metadata = {
  'system:worker_type': 'external',
  'system:host_architecture': 'amd64',
  'system:architectures': ['amd64', 'i386'],
  'system:cpu_count': 4,
  'system:total_physical_memory': 8 * 1024 ** 3,
  'system:free_disk': 50 * 1024 ** 3,
  'noop:available': true,
  'noop:version': 1,
  'lintian:available': true,
  'lintian:version': 1,
  'git-import:available': true,
  'git-import:version': 1,
};

export interface SchedulingWorld extends World {
  addWorker(fqdn: string, opts?: { metadata?: Metadata; concurrency?: number }): Promise<{ name: string; key: string; caller: () => Promise<Caller> }>;
  submit(taskName: string, taskData?: Record<string, unknown>, as?: string): Promise<WorkRequest>;
}

export async function createSchedulingWorld(): Promise<SchedulingWorld> {
  const world = await createWorld();
  const { deps } = world;
  return {
    ...world,
    async addWorker(fqdn, opts = {}) {
      const key = generateTokenKey();
      const worker = await registerWorker(deps, { tokenKey: key, fqdn, concurrency: opts.concurrency });
      await enableWorker(deps, 'test', worker.name);
      const caller = () => authenticate(deps, key);
      await updateDynamicMetadata(deps, await caller(), opts.metadata ?? AMD64_METADATA);
      return { name: worker.name, key, caller };
    },
    async submit(taskName, taskData = {}, as = 'contributor') {
      return createWorkRequest(deps, await world.caller(as), { scope: 'debusine', workspace: 'priv', taskName, taskData });
    },
  };
}
