/**
 * What both notifiers check before sending: a sender (the e-mail's, else the deployment's default),
 * at least one recipient, and addresses and a subject that cannot smuggle in header lines.
 */
import { NOTIFY_FROM_ENV_VAR } from '../../manifest';
import type { Email } from '../../ports';

export interface PreparedEmail {
  from: string;
  to: string[];
  cc: string[];
  /** One line: control characters (CR, LF, tabs) are folded into spaces. */
  subject: string;
  /** Line endings normalised to LF. */
  body: string;
}

/** `addr@domain` or `Display Name <addr@domain>`, one line, no control characters. */
const ADDRESS = /^(?:[^<>\u0000-\u001f\u007f]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@,;]+@[^\s<>@,;]+)$/;

export function checkAddress(address: string, field: string): string {
  const trimmed = address.trim();
  if (!ADDRESS.test(trimmed)) throw new Error(`invalid e-mail address in ${field}: ${JSON.stringify(address)}`);
  return trimmed;
}

/** The address part of `Name <addr>` (or the address itself). */
export function addrSpec(address: string): string {
  const m = /<([^<>]+)>\s*$/.exec(address);
  return (m ? m[1]! : address).trim();
}

export function prepareEmail(email: Email, defaultFrom: string | undefined): PreparedEmail {
  const from = email.from?.trim() || defaultFrom?.trim();
  if (!from) throw new Error(`a notification needs a sender: set ${NOTIFY_FROM_ENV_VAR} or give the channel a "from"`);
  const to = (email.to ?? []).map((a) => checkAddress(a, 'to'));
  const cc = (email.cc ?? []).map((a) => checkAddress(a, 'cc'));
  if (to.length === 0 && cc.length === 0) throw new Error('a notification needs at least one recipient');
  return {
    from: checkAddress(from, 'from'),
    to,
    cc,
    subject: email.subject.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim(),
    body: email.body.replace(/\r\n?/g, '\n'),
  };
}
