/**
 * `conveyor admin worker online|offline|quiesce NAME [--message M]`: Launchpad's machine states on
 * workers (shared/app/machines.ts). Registered under `admin worker` by registerAdminWorkerCommands.
 */
import type { Command } from 'commander';
import { MACHINE_ACTIONS, machineStatus, setMachineState } from '../../shared/app/machines';
import type { AdminRun } from './workers';

const DESCRIPTIONS: Record<(typeof MACHINE_ACTIONS)[number], string> = {
  online: 'set a worker ONLINE (from OFFLINE or QUIESCING): it takes new work again',
  offline: 'set a worker OFFLINE (reason STOPPED): it takes no new work',
  quiesce: 'set a worker QUIESCING: no new work, it finishes what it runs, then goes OFFLINE (QUIESCED)',
};

export function registerAdminMachineCommands(worker: Command, run: AdminRun): void {
  for (const action of MACHINE_ACTIONS) {
    worker
      .command(action)
      .description(DESCRIPTIONS[action])
      .argument('<name>', 'worker name')
      .option('--message <text>', 'why (kept in the event)')
      .action(
        run<{ message?: string }, [string]>(async ({ deps, actor, options, print }, name) => {
          const updated = await setMachineState(deps, actor, name, action, options.message);
          const m = machineStatus(updated);
          print({ name: m.name, state: m.state, offline_reason: m.offlineReason }, () => `Worker ${m.name} is ${m.state}${m.offlineReason ? ` (${m.offlineReason})` : ''}\n`);
        }),
      );
  }
}
