/**
 * Notifications on the local stack: each e-mail is appended to a mailbox file (CONVEYOR_MAILBOX_FILE,
 * `<data dir>/mailbox`) in mbox format ("mboxrd"), readable with `mail -f`, `mutt -f` or Python's
 * `mailbox.mbox`, and easy for tests to parse:
 *
 *     From conveyor@localhost Thu Nov 22 10:00:00 2026
 *     From: conveyor@localhost
 *     To: alice@example.org
 *     Subject: WorkRequest 7 completed in success
 *     Date: Thu, 22 Nov 2026 10:00:00 +0000
 *     Message-ID: <uuid@conveyor.local>
 *     MIME-Version: 1.0
 *     Content-Type: text/plain; charset=utf-8
 *     Content-Transfer-Encoding: 8bit
 *
 *     body lines (a line matching /^>*From / gets one more ">")
 *     <empty line>
 *
 * - The "From " separator line carries the sender's address and the time in UTC (asctime format).
 * - A non-ASCII subject is encoded as RFC 2047 UTF-8 "B" encoded words; the body is sent as 8-bit UTF-8.
 * - Appends to one file are serialised within the process, each message is a single write
 *   (O_APPEND), and the file is created with mode 0600.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Email, Notifier } from '../../ports';
import { addrSpec, prepareEmail, type PreparedEmail } from './email';

/** Sender used when neither the e-mail nor CONVEYOR_NOTIFY_FROM names one (local only). */
export const DEFAULT_LOCAL_SENDER = 'conveyor@localhost';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Appends in progress, per file: one message at a time, in call order. */
const queues = new Map<string, Promise<void>>();

export interface MailboxNotifierOptions {
  defaultFrom?: string | undefined;
  now?: () => Date;
  messageId?: () => string;
}

export class MailboxNotifier implements Notifier {
  constructor(
    readonly path: string,
    private readonly opts: MailboxNotifierOptions = {},
  ) {}

  async send(email: Email): Promise<void> {
    const mail = prepareEmail(email, this.opts.defaultFrom || DEFAULT_LOCAL_SENDER);
    const text = formatMboxMessage(mail, (this.opts.now ?? (() => new Date()))(), this.opts.messageId?.() ?? `${randomUUID()}@conveyor.local`);
    const previous = queues.get(this.path) ?? Promise.resolve();
    const next = previous.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await appendFile(this.path, text, { encoding: 'utf8', mode: 0o600 });
    });
    const settled = next.catch(() => undefined);
    queues.set(this.path, settled);
    void settled.then(() => {
      if (queues.get(this.path) === settled) queues.delete(this.path);
    });
    await next;
  }
}

/** One mboxrd message, separator line included, followed by the empty line that ends it. */
export function formatMboxMessage(mail: PreparedEmail, at: Date, messageId: string): string {
  const headers = [
    `From: ${mail.from}`,
    ...(mail.to.length ? [`To: ${mail.to.join(', ')}`] : []),
    ...(mail.cc.length ? [`Cc: ${mail.cc.join(', ')}`] : []),
    `Subject: ${encodeHeaderText(mail.subject)}`,
    `Date: ${rfc2822Date(at)}`,
    `Message-ID: <${messageId.replace(/[<>\s]/g, '')}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const body = mail.body.endsWith('\n') ? mail.body.slice(0, -1) : mail.body;
  const bodyLines = body === '' ? [] : body.split('\n').map((line) => (/^>*From /.test(line) ? `>${line}` : line));
  return [`From ${addrSpec(mail.from)} ${asctime(at)}`, ...headers, '', ...bodyLines, '', ''].join('\n');
}

/** ASCII as is; anything else as RFC 2047 encoded words (UTF-8, base64), each at most 75 characters. */
export function encodeHeaderText(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    if (Buffer.byteLength(chunk + ch, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\n ');
}

/** `Thu Nov 22 10:00:00 2026` (UTC): the date of an mbox "From " line. */
export function asctime(d: Date): string {
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${day} ${hms(d)} ${d.getUTCFullYear()}`;
}

/** `Thu, 22 Nov 2026 10:00:00 +0000`. */
export function rfc2822Date(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${String(d.getUTCDate()).padStart(2, '0')} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${hms(d)} +0000`;
}

function hms(d: Date): string {
  return [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}
