/** The notifiers: SES (exact SendEmail requests) and the local mailbox file (mbox format). */
import 'aws-sdk-client-mock-jest';
import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareEmail } from '../../shared/adapters/notify/email';
import { asctime, encodeHeaderText, formatMboxMessage, MailboxNotifier, rfc2822Date } from '../../shared/adapters/notify/mailbox-notifier';
import { SesNotifier } from '../../shared/adapters/notify/ses-notifier';

const AT = new Date('2026-11-05T09:04:03.000Z'); // a Thursday

describe('prepareEmail', () => {
  it('takes the default sender when the e-mail names none, and normalises subject and line endings', () => {
    expect(prepareEmail({ to: [' a@example.org '], subject: 'two\r\nlines\tand tab', body: 'x\r\ny\rz' }, 'conveyor@example.org')).toEqual({
      from: 'conveyor@example.org',
      to: ['a@example.org'],
      cc: [],
      subject: 'two lines and tab',
      body: 'x\ny\nz',
    });
  });

  it.each([
    [{ to: ['a@example.org'], subject: 's', body: '' }, undefined, /needs a sender.*CONVEYOR_NOTIFY_FROM/],
    [{ to: [], cc: [], subject: 's', body: '' }, 'c@example.org', /at least one recipient/],
    [{ to: ['a@example.org\nBcc: spy@evil.example'], subject: 's', body: '' }, 'c@example.org', /invalid e-mail address in to/],
    [{ to: ['a@example.org'], cc: ['not-an-address'], subject: 's', body: '' }, 'c@example.org', /invalid e-mail address in cc/],
    [{ from: 'Eve <eve@example.org>\r\nX-Evil: 1', to: ['a@example.org'], subject: 's', body: '' }, undefined, /invalid e-mail address in from/],
  ])('refuses %j (default sender %s)', (email, defaultFrom, error) => {
    expect(() => prepareEmail(email, defaultFrom)).toThrow(error);
  });

  it('accepts display names', () => {
    expect(prepareEmail({ from: 'CI Bot <ci@example.org>', to: ['Alice <a@example.org>'], subject: 's', body: '' }, undefined)).toMatchObject({
      from: 'CI Bot <ci@example.org>',
      to: ['Alice <a@example.org>'],
    });
  });
});

describe('SesNotifier', () => {
  const ses = mockClient(SESv2Client);
  const client = new SESv2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  beforeEach(() => ses.reset());
  afterAll(() => ses.restore());

  it('sends one simple UTF-8 message with To and Cc', async () => {
    ses.on(SendEmailCommand).resolves({ MessageId: 'm' });
    await new SesNotifier(client, { defaultFrom: 'conveyor@example.org' }).send({
      to: ['a@example.org', 'b@example.org'],
      cc: ['c@example.org'],
      subject: 'WorkRequest 7 completed in failure — ünïcode',
      body: 'line 1\r\nline 2\n',
    });
    expect(ses).toHaveReceivedCommandTimes(SendEmailCommand, 1);
    expect(ses.commandCalls(SendEmailCommand)[0]!.args[0].input).toEqual({
      FromEmailAddress: 'conveyor@example.org',
      Destination: { ToAddresses: ['a@example.org', 'b@example.org'], CcAddresses: ['c@example.org'] },
      Content: {
        Simple: {
          Subject: { Data: 'WorkRequest 7 completed in failure — ünïcode', Charset: 'UTF-8' },
          Body: { Text: { Data: 'line 1\nline 2\n', Charset: 'UTF-8' } },
        },
      },
    });
  });

  it("uses the e-mail's own sender over the default, and passes SES errors on", async () => {
    ses.on(SendEmailCommand).rejects(Object.assign(new Error('Email address is not verified'), { name: 'MessageRejected' }));
    await expect(new SesNotifier(client, { defaultFrom: 'd@example.org' }).send({ from: 'x@example.org', to: ['a@example.org'], subject: 's', body: 'b' })).rejects.toThrow(
      'not verified',
    );
    expect(ses.commandCalls(SendEmailCommand)[0]!.args[0].input.FromEmailAddress).toBe('x@example.org');
  });

  it('refuses to call SES without a sender or recipient', async () => {
    await expect(new SesNotifier(client).send({ to: ['a@example.org'], subject: 's', body: 'b' })).rejects.toThrow(/sender/);
    await expect(new SesNotifier(client, { defaultFrom: 'd@example.org' }).send({ to: [], subject: 's', body: 'b' })).rejects.toThrow(/recipient/);
    expect(ses).toHaveReceivedCommandTimes(SendEmailCommand, 0);
  });
});

describe('mbox formatting', () => {
  it('dates: asctime (space-padded day) for the separator, RFC 2822 for the header', () => {
    expect(asctime(AT)).toBe('Thu Nov  5 09:04:03 2026');
    expect(rfc2822Date(AT)).toBe('Thu, 05 Nov 2026 09:04:03 +0000');
  });

  it('is one "From " line, the headers, an empty line, the body and an empty line', () => {
    const text = formatMboxMessage(
      prepareEmail({ from: 'CI <ci@example.org>', to: ['a@example.org', 'b@example.org'], cc: ['c@example.org'], subject: 'Done', body: 'hello\nworld\n' }, undefined),
      AT,
      'id-1@conveyor.local',
    );
    expect(text).toBe(
      [
        'From ci@example.org Thu Nov  5 09:04:03 2026',
        'From: CI <ci@example.org>',
        'To: a@example.org, b@example.org',
        'Cc: c@example.org',
        'Subject: Done',
        'Date: Thu, 05 Nov 2026 09:04:03 +0000',
        'Message-ID: <id-1@conveyor.local>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        'hello',
        'world',
        '',
        '',
      ].join('\n'),
    );
  });

  it('quotes body lines that look like separators (mboxrd: one more ">")', () => {
    const text = formatMboxMessage(prepareEmail({ to: ['a@example.org'], subject: 's', body: 'From here\n>From there\nFromage\n' }, 'c@example.org'), AT, 'x');
    const body = text.split('\n\n')[1];
    expect(body).toBe('>From here\n>>From there\nFromage');
  });

  it('encodes a non-ASCII subject as RFC 2047 words of at most 75 characters', () => {
    const subject = 'Échec du flux de travail « nightly » numéro 12 — voir les journaux détaillés';
    const encoded = encodeHeaderText(subject);
    const words = encoded.split('\n ');
    expect(words.length).toBeGreaterThan(1);
    for (const w of words) {
      expect(w.length).toBeLessThanOrEqual(75);
      expect(w).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
    }
    const decoded = words.map((w) => Buffer.from(w.slice(10, -2), 'base64').toString('utf8')).join('');
    expect(decoded).toBe(subject);
    expect(encodeHeaderText('plain ASCII')).toBe('plain ASCII');
  });
});

describe('MailboxNotifier', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-mailbox-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Messages of an mbox file: split at separator lines. */
  function messages(path: string): string[] {
    return readFileSync(path, 'utf8')
      .split(/^(?=From \S+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$)/m)
      .filter((m) => m !== '');
  }

  it('creates the file (and its directory) private to the user, and appends in call order, even concurrently', async () => {
    const path = join(dir, 'nested', 'mailbox');
    let n = 0;
    const notifier = new MailboxNotifier(path, { now: () => AT, messageId: () => `m${++n}@conveyor.local` });
    await Promise.all(Array.from({ length: 20 }, (_, i) => notifier.send({ to: ['a@example.org'], subject: `message ${i}`, body: `body ${i}\n`.repeat(200) })));
    const all = messages(path);
    expect(all).toHaveLength(20);
    all.forEach((m, i) => {
      expect(m).toMatch(new RegExp(`^From conveyor@localhost Thu Nov  5 09:04:03 2026\\n`));
      expect(m).toContain(`\nSubject: message ${i}\n`);
      expect(m).toContain(`\nMessage-ID: <m${i + 1}@conveyor.local>\n`);
      expect(m.endsWith(`body ${i}\n\n`)).toBe(true);
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('uses the configured default sender, and the e-mail\'s own when it has one', async () => {
    const path = join(dir, 'mailbox');
    const notifier = new MailboxNotifier(path, { defaultFrom: 'dev@conveyor.test', now: () => AT });
    await notifier.send({ to: ['a@example.org'], subject: 'one', body: '' });
    await notifier.send({ from: 'Team <team@example.org>', to: ['a@example.org'], subject: 'two', body: '' });
    const [one, two] = messages(path);
    expect(one).toMatch(/^From dev@conveyor\.test /);
    expect(one).toContain('\nFrom: dev@conveyor.test\n');
    expect(two).toMatch(/^From team@example\.org /);
    expect(two).toContain('\nFrom: Team <team@example.org>\n');
  });

  it('writes nothing for an e-mail it refuses', async () => {
    const path = join(dir, 'mailbox');
    await expect(new MailboxNotifier(path).send({ to: ['bad address'], subject: 's', body: '' })).rejects.toThrow(/invalid e-mail address/);
    expect(() => statSync(path)).toThrow();
  });
});
