/**
 * `conveyor admin notification-channel ...`: the e-mail channels that `send-notification` event
 * reactions name (debusine-admin create_notification_channel / list_notification_channels).
 * Registered by registerAdminCommands with its `run` wrapper.
 */
import type { Command } from 'commander';
import { createChannel, listChannels } from '../../shared/app/channels';
import type { NotificationChannel } from '../../shared/ports';
import { formatTable } from '../client/format';
import { adminListCommand, type AdminRun } from './workers';

/** Repeatable option values: `--to a --to b` and `--to a,b` both give [a, b]. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter((v) => v !== '')];
}

export function channelsTable(channels: NotificationChannel[]): string {
  if (channels.length === 0) return 'No notification channels.\n';
  return formatTable(
    ['NAME', 'METHOD', 'FROM', 'TO', 'CC'],
    channels.map((c) => [c.name, c.method, c.data.from ?? '(default)', (c.data.to ?? []).join(', ') || '-', (c.data.cc ?? []).join(', ') || '-']),
  );
}

export function registerAdminChannelCommands(admin: Command, run: AdminRun): void {
  const channel = admin.command('notification-channel').description('e-mail channels for send-notification event reactions');

  channel
    .command('create')
    .description('create an e-mail notification channel')
    .argument('<name>', 'channel name, as event reactions name it')
    .requiredOption('--to <address>', 'recipient (repeat the option or separate with commas)', collect)
    .option('--from <address>', 'sender (default: the deployment default, CONVEYOR_NOTIFY_FROM)')
    .option('--cc <address>', 'copy recipient (repeat the option or separate with commas)', collect)
    .option('--replace', 'replace the channel if it exists')
    .action(
      run<{ to: string[]; from?: string; cc?: string[]; replace?: boolean }, [string]>(async ({ deps, actor, options, print }, name) => {
        const { channel: created, replaced } = await createChannel(deps, actor, {
          name,
          to: options.to,
          ...(options.from !== undefined ? { from: options.from } : {}),
          ...(options.cc ? { cc: options.cc } : {}),
          replace: Boolean(options.replace),
        });
        print(created, () => `${replaced ? 'Replaced' : 'Created'} notification channel ${created.name} (to ${created.data.to?.join(', ')})\n`);
      }),
    );

  adminListCommand(channel, run, 'list notification channels', listChannels, channelsTable);
}
