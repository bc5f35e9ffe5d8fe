/**
 * `conveyor`: the one command-line entry point. Each area registers its own subcommands:
 * client commands (artifact, ...), admin commands (direct database access, like
 * debusine-admin), and `dev` (the local stack).
 */
import './node-warnings';
import { Command } from 'commander';
import { registerClientCommands } from './client/commands';
import { registerAdminCommands } from './admin/commands';
import { registerDevCommand } from './dev/command';
import { registerWorkerCommand } from './worker/command';

export function buildProgram(): Command {
  const program = new Command();
  program.name('conveyor').description('Conveyor: artifacts, work requests and workflows (Debusine-compatible)');
  registerClientCommands(program);
  registerAdminCommands(program);
  registerDevCommand(program);
  registerWorkerCommand(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`conveyor: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
