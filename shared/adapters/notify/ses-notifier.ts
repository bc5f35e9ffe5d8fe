/**
 * Notifications through Amazon SES (API v2 `SendEmail`, simple content, UTF-8). The sender is the
 * e-mail's `from` (a channel's), else CONVEYOR_NOTIFY_FROM; SES refuses senders that are not
 * verified identities of the account (and, in the sandbox, unverified recipients).
 */
import { SendEmailCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import type { Email, Notifier } from '../../ports';
import { prepareEmail } from './email';

export class SesNotifier implements Notifier {
  constructor(
    private readonly ses: SESv2Client,
    private readonly opts: { defaultFrom?: string | undefined } = {},
  ) {}

  async send(email: Email): Promise<void> {
    const mail = prepareEmail(email, this.opts.defaultFrom);
    await this.ses.send(
      new SendEmailCommand({
        FromEmailAddress: mail.from,
        Destination: {
          ...(mail.to.length ? { ToAddresses: mail.to } : {}),
          ...(mail.cc.length ? { CcAddresses: mail.cc } : {}),
        },
        Content: {
          Simple: {
            Subject: { Data: mail.subject, Charset: 'UTF-8' },
            Body: { Text: { Data: mail.body, Charset: 'UTF-8' } },
          },
        },
      }),
    );
  }
}
