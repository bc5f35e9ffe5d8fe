import { rmSync } from 'node:fs';
import { GLOBAL_KEY, type IntegrationEmulators } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>)[GLOBAL_KEY] as IntegrationEmulators | undefined;
  if (!state) return;
  delete (globalThis as Record<string, unknown>)[GLOBAL_KEY];
  await state.emulators.stop();
  rmSync(state.dataDir, { recursive: true, force: true });
}
