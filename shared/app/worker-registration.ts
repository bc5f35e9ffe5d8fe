/**
 * The guarded parts of worker registration (security finding 2 and 7), kept apart from the
 * Debusine wire handling in workers.ts:
 *
 * - an activation token is consumed by ONE conditional write before anything is created, so two
 *   concurrent registrations with the same token cannot both win;
 * - a registration without one (Debusine's own flow: the worker generated its token and waits for
 *   an administrator) is rate-limited, creates no queue and stays out of the scheduler's index;
 * - an administrator enabling a worker whose name is contested by another unapproved registration
 *   of the same machine name must say which token they mean (its fingerprint), so that an attacker
 *   who registered a real machine's name first does not get enabled by mistake.
 */
import { ConflictError, TooManyRequestsError, UnauthorizedError, ValidationError } from '../domain/errors';
import { tokenUnusableReason, type Token } from '../domain/tenancy';
import type { Worker } from '../domain/workers';
import type { Deps } from '../ports';
import { hashTokenKey } from './auth';

/** Registrations without an activation token accepted per clock hour, over all callers. */
export const MAX_UNACTIVATED_REGISTRATIONS_PER_HOUR = 30;

/** How much of the SHA-256 of a worker's token identifies it to an administrator. */
export const TOKEN_FINGERPRINT_LENGTH = 16;

/** What an administrator compares with what the worker machine shows (`sha256(token)`, first 16 hex). */
export function tokenFingerprint(tokenHash: string): string {
  return tokenHash.slice(0, TOKEN_FINGERPRINT_LENGTH);
}

/**
 * Checks an activation token and spends it in one conditional write (version-checked): of two
 * concurrent registrations presenting it, exactly one gets past this point.
 */
export async function consumeActivationToken(deps: Deps, activationKey: string): Promise<Token> {
  const activation = await deps.identity.getTokenByHash(hashTokenKey(activationKey));
  const problem = activation ? tokenUnusableReason(activation, deps.clock.now()) : 'the token is not known';
  if (!activation || activation.purpose !== 'activation' || problem) {
    throw new UnauthorizedError('Invalid token', problem ?? 'not an activation token');
  }
  // One use only: Debusine deletes the activation token once it has enabled a worker.
  const spent: Token = { ...activation, status: 'revoked', enabled: false, version: activation.version + 1 };
  try {
    await deps.identity.updateToken(spent, activation.version);
  } catch (err) {
    if (err instanceof ConflictError) throw new UnauthorizedError('Invalid token', 'the activation token was used meanwhile');
    throw err;
  }
  return activation;
}

/** Counts one unactivated registration against the hourly limit; 429 once it is reached. */
export async function admitUnactivatedRegistration(deps: Deps): Promise<void> {
  const hour = deps.clock.now().toISOString().slice(0, 13);
  const count = await deps.sequences.next(`rate:worker-registration#${hour}`);
  if (count > MAX_UNACTIVATED_REGISTRATIONS_PER_HOUR) {
    throw new TooManyRequestsError(
      'Too many registrations',
      `MAX_UNACTIVATED_REGISTRATIONS_PER_HOUR (${MAX_UNACTIVATED_REGISTRATIONS_PER_HOUR}) registrations without an activation token were received this hour; retry later or use an activation token`,
    );
  }
}

/** The machine name a worker was registered under: its name without the `-2`, `-3` clash suffix. */
function baseName(name: string): string {
  return name.replace(/-\d+$/, '');
}

/**
 * Before enabling `worker`: if another registration awaiting approval claims the same machine
 * name, the administrator must name the token fingerprint; a given fingerprint must match.
 */
export async function checkEnableIsUnambiguous(deps: Deps, worker: Worker, expectedFingerprint?: string): Promise<void> {
  const own = tokenFingerprint(worker.tokenHash);
  if (expectedFingerprint !== undefined) {
    if (!/^[0-9a-f]{1,64}$/.test(expectedFingerprint)) {
      throw ValidationError.field('fingerprint', 'must be hex digits (the start of sha256 of the worker token)', 'Invalid fingerprint');
    }
    if (!own.startsWith(expectedFingerprint.slice(0, TOKEN_FINGERPRINT_LENGTH))) {
      throw new ConflictError('Fingerprint mismatch', `worker "${worker.name}" has token fingerprint ${own}, not ${expectedFingerprint}`);
    }
    return;
  }
  if (worker.enabled) return;
  const rivals = (await deps.workers.listDisabled()).filter(
    // A queue is created on the first enable: a disabled worker without one was never approved.
    (w) => w.name !== worker.name && baseName(w.name) === baseName(worker.name) && w.queueUrl === null,
  );
  if (rivals.length > 0) {
    const listed = [worker, ...rivals].map((w) => `${w.name} (${tokenFingerprint(w.tokenHash)})`).join(', ');
    throw new ConflictError(
      'Contested worker name',
      `several registrations await approval for the same machine: ${listed}; check the fingerprint on the machine ` +
        `(sha256 of its token) and enable with that fingerprint`,
    );
  }
}
