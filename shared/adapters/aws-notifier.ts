/**
 * The notifier port (SES, or the local stack's mailbox file): a module of its own so that only the
 * functions wired with `notifier` require the SES SDK package at cold start (see aws-clients.ts).
 */
import { SESv2Client } from '@aws-sdk/client-sesv2';
import type { Notifier } from '../ports';
import type { AwsAdapter } from './aws-adapters';
import type { AwsConfig } from './aws-config';
import { clientBase, type AwsContext } from './aws-clients';
import { MailboxNotifier } from './notify/mailbox-notifier';
import { SesNotifier } from './notify/ses-notifier';

export function sesClient(ctx: AwsContext): SESv2Client {
  return (ctx.clients.ses ??= new SESv2Client(clientBase(ctx, 'SESV2')));
}

export const notifier: AwsAdapter<'notifier'> = (ctx) =>
  createNotifier(ctx.config, {
    get ses() {
      return sesClient(ctx);
    },
  });

/**
 * A mailbox file when one is configured (local stack), else SES. The SES client is asked for on the
 * first e-mail only: most functions never send.
 */
export function createNotifier(config: Pick<AwsConfig, 'mailboxFile' | 'notifyFrom' | 'region'>, clients: { readonly ses?: SESv2Client } = {}): Notifier {
  if (config.mailboxFile) return new MailboxNotifier(config.mailboxFile, { defaultFrom: config.notifyFrom });
  let ses: SesNotifier | undefined;
  return {
    send: (email) => (ses ??= new SesNotifier(clients.ses ?? new SESv2Client({ region: config.region }), { defaultFrom: config.notifyFrom })).send(email),
  };
}
