/**
 * Notification channels (Debusine's `NotificationChannel`, method `email`): what a
 * `send-notification` event reaction names. Administrators create them (`conveyor admin
 * notification-channel create`); every change is written to the audit log.
 */
import { ConflictError, ValidationError } from '../domain/errors';
import type { Deps, NotificationChannel } from '../ports';
import { recordAudit } from './audit';

/** `addr@domain` or `Display Name <addr@domain>`, on one line. */
const EMAIL = /^(?:[^<>\u0000-\u001f\u007f]*<[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+>|[^\s<>@,;]+@[^\s<>@,;]+\.[^\s<>@,;]+)$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/;

export interface ChannelInput {
  name: string;
  to: string[];
  from?: string;
  cc?: string[];
  /** Replace the channel of that name if there is one (else that is a ConflictError). */
  replace?: boolean;
}

function addresses(values: string[], field: string): string[] {
  const out = values.map((v) => v.trim()).filter((v) => v !== '');
  for (const v of out) if (!EMAIL.test(v)) throw ValidationError.field(field, `${JSON.stringify(v)} is not an e-mail address`, 'Invalid notification channel');
  return out;
}

/** Creates the channel; with `replace`, replaces the one of that name (reactions use its new data at once). */
export async function createChannel(deps: Deps, actor: string, input: ChannelInput): Promise<{ channel: NotificationChannel; replaced: boolean }> {
  if (!NAME.test(input.name)) {
    throw ValidationError.field('name', 'must be 1 to 100 letters, digits, ".", "_", "+" or "-", starting with a letter or digit', 'Invalid notification channel');
  }
  const to = addresses(input.to, 'to');
  if (to.length === 0) throw ValidationError.field('to', 'needs at least one address', 'Invalid notification channel');
  const cc = addresses(input.cc ?? [], 'cc');
  const from = input.from !== undefined ? addresses([input.from], 'from')[0] : undefined;
  const channel: NotificationChannel = {
    name: input.name,
    method: 'email',
    data: { to, ...(cc.length ? { cc } : {}), ...(from ? { from } : {}) },
  };
  const previous = await deps.channels.get(input.name);
  if (previous && !input.replace) {
    throw new ConflictError('Notification channel exists', `a notification channel named "${input.name}" exists (replace it with --replace)`);
  }
  await deps.channels.put(channel);
  await recordAudit(deps, actor, previous ? 'notification-channel.update' : 'notification-channel.create', {
    name: channel.name,
    method: channel.method,
    data: channel.data,
    ...(previous ? { previous: previous.data } : {}),
  });
  return { channel, replaced: previous !== undefined };
}

/** Every channel, by name. */
export async function listChannels(deps: Deps): Promise<NotificationChannel[]> {
  return [...(await deps.channels.list())].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
