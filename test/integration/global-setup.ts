/**
 * Jest global setup of the integration tier: the three emulators with data in a fresh temporary
 * directory, the tables, bucket and queues of the manifest, and their environment handed to the
 * integration test workers (see apply-env.ts). global-teardown.ts stops them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulators, type RunningEmulators } from '../../cli/dev/emulators';
import { provision } from '../../cli/dev/provision';

export interface IntegrationEmulators {
  emulators: RunningEmulators;
  dataDir: string;
}

/** Jest runs global setup and teardown in one context: this is how teardown finds the emulators. */
export const EMULATOR_ENV_VAR = 'CONVEYOR_TEST_EMULATOR_ENV';

export const GLOBAL_KEY = '__CONVEYOR_INTEGRATION_EMULATORS__';

export default async function globalSetup(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-it-'));
  const emulators = await startEmulators({ dataDir });
  try {
    const env = await provision(emulators.endpoints);
    // Only the integration tier may see the emulators (unit tests must not pick up their
    // endpoints): apply-env.ts, a setup file of that project, unpacks this one variable.
    process.env[EMULATOR_ENV_VAR] = JSON.stringify(env);
  } catch (err) {
    await emulators.stop();
    throw err;
  }
  const state: IntegrationEmulators = { emulators, dataDir };
  (globalThis as Record<string, unknown>)[GLOBAL_KEY] = state;
}
