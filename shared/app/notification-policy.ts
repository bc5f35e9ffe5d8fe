/**
 * Who a `send-notification` reaction may write to, and as whom (security finding 3). Recipients
 * and sender are an administrator's choice, made when creating the notification channel: a
 * reaction may narrow the channel's recipients (`to`/`cc` among the channel's addresses) and
 * may name its sender only if it is the channel's. Anything else is refused when the work
 * request is created (400 naming the field) and, for reactions stored before, when sending.
 */
import { ValidationError } from '../domain/errors';
import type { NotificationChannel } from '../ports';

export interface NotificationOverrides {
  from?: string;
  to?: string[];
  cc?: string[];
}

export interface NotificationEnvelope {
  from?: string;
  to: string[];
  cc?: string[];
}

/** The address inside `Name <addr>`, lower-cased, for comparisons. */
function bareAddress(address: string): string {
  const inBrackets = /<([^<>]+)>\s*$/.exec(address);
  return (inBrackets ? inBrackets[1]! : address).trim().toLowerCase();
}

/** Throws a ValidationError naming `field` when the reaction's data leave the channel's bounds. */
export function notificationEnvelope(channel: NotificationChannel, overrides: NotificationOverrides, field = 'data'): NotificationEnvelope {
  const allowed = new Set([...(channel.data.to ?? []), ...(channel.data.cc ?? [])].map(bareAddress));
  for (const key of ['to', 'cc'] as const) {
    const outside = (overrides[key] ?? []).filter((a) => !allowed.has(bareAddress(a)));
    if (outside.length) {
      throw ValidationError.field(
        `${field}.${key}`,
        `${outside.join(', ')} is not an address of notification channel "${channel.name}"; only its administrator-configured recipients may be used`,
        'Invalid event_reactions',
      );
    }
  }
  if (overrides.from !== undefined && (channel.data.from === undefined || bareAddress(overrides.from) !== bareAddress(channel.data.from))) {
    throw ValidationError.field(`${field}.from`, `the sender is the notification channel's ("${channel.name}"); it cannot be chosen`, 'Invalid event_reactions');
  }
  return {
    ...(channel.data.from !== undefined ? { from: channel.data.from } : {}),
    to: overrides.to ?? channel.data.to ?? [],
    ...((overrides.cc ?? channel.data.cc) !== undefined ? { cc: overrides.cc ?? channel.data.cc } : {}),
  };
}
