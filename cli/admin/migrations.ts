/**
 * `conveyor admin db current|history|upgrade [rev]|downgrade [rev]`: the stored items' schema
 * migrations (Alembic's verbs). Registered by registerAdminCommands; extends its `db` group.
 */
import type { Command } from 'commander';
import { currentRevision, downgradeSchema, MIGRATIONS, NEWEST_REVISION, schemaHistory, upgradeSchema, type MigrationStep } from '../../shared/app/migrations';
import { formatTable } from '../client/format';
import type { AdminRun } from './workers';

function stepsText(steps: MigrationStep[], now: string): string {
  if (steps.length === 0) return `Nothing to do: the schema is at ${now}.\n`;
  return steps.map((s) => `${s.direction === 'upgrade' ? 'Upgraded to' : 'Downgraded from'} ${s.rev} (${s.items} item(s) changed)\n`).join('') + `The schema is at ${now}.\n`;
}

export function registerAdminMigrationCommands(admin: Command, run: AdminRun): void {
  const db = admin.commands.find((c) => c.name() === 'db');
  if (!db) throw new Error('admin db must be registered first');
  db.command('current')
    .description('show the schema revision of the stored items')
    .action(
      run(async ({ deps, print }) => {
        const rev = await currentRevision(deps);
        print({ revision: rev, newest: NEWEST_REVISION }, () => `${rev}${rev === NEWEST_REVISION ? ' (newest)' : ` (newest: ${NEWEST_REVISION}; run \`conveyor admin db upgrade\`)`}\n`);
      }),
    );
  db.command('history')
    .description('list the revisions, and the upgrades and downgrades applied to this table')
    .action(
      run(async ({ deps, print }) => {
        const changes = await schemaHistory(deps);
        const revisions = MIGRATIONS.map((m) => ({ rev: m.rev, description: m.description }));
        print({ revisions, changes }, () =>
          formatTable(['REVISION', 'DESCRIPTION'], revisions.map((r) => [r.rev, r.description])) +
          '\n' +
          (changes.length ? formatTable(['AT', 'ACTION', 'FROM', 'TO', 'BY'], changes.map((c) => [c.at, c.action, c.from, c.to, c.actor])) : 'No changes applied.\n'),
        );
      }),
    );
  // upgrade and downgrade: move the schema to REV and say which revision that reached.
  const moves = [
    { name: 'upgrade', description: 'apply the migrations after the current revision, up to REV (default: the newest); safe to run again', argument: 'target revision', move: upgradeSchema, reached: (rev: string | undefined) => rev ?? NEWEST_REVISION },
    { name: 'downgrade', description: 'revert migrations down to REV (default: one step back)', argument: 'target revision (base: before every migration)', move: downgradeSchema, reached: (_rev: string | undefined, now: string) => now },
  ];
  for (const { name, description, argument, move, reached } of moves) {
    db.command(name)
      .description(description)
      .argument('[rev]', argument)
      .action(
        run<object, [string]>(async ({ deps, actor, print }, given) => {
          const rev = given as string | undefined; // optional argument
          const steps = await move(deps, actor, rev);
          const now = await currentRevision(deps);
          print({ steps, revision: now }, () => stepsText(steps, reached(rev, now)));
        }),
      );
  }
}
