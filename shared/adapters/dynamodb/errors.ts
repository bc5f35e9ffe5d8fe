/**
 * Turns DynamoDB's answers to conditional writes into outcomes the repositories can
 * reason about, and then into domain errors. A lost race never escapes as a raw SDK error:
 * a failed condition becomes a ConflictError or NotFoundError chosen by the caller, and a
 * transaction that collided with another one is retried a few times before it becomes a
 * ConflictError.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ConflictError, type DomainError, NotFoundError, PayloadTooLargeError } from '../../domain/errors';

/** An item as DynamoDB returns it inside an error (not unmarshalled by the document client). */
export type RawItem = Record<string, AttributeValue>;

export interface FailureReason {
  /** `ConditionalCheckFailed`, `TransactionConflict`, `None`, ... (one per transaction item). */
  code: string;
  /** The item as it stood, when the request asked for `ReturnValuesOnConditionCheckFailure: ALL_OLD`. */
  item?: RawItem;
  message?: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; reasons: FailureReason[] };

const CONDITION_FAILED = 'ConditionalCheckFailed';
/** Cancellation codes that mean "try again": another request held the item, or throttling. */
const RETRYABLE = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'None']);
const MAX_ATTEMPTS = 8;

/**
 * Runs one conditional write (or transaction). Resolves `{ ok: false, reasons }` when a
 * condition failed (reasons are in the order of the transaction's items; a single write has
 * one). Retries collisions with concurrent transactions; rethrows anything else.
 */
export async function attempt<T>(write: () => Promise<T>): Promise<Outcome<T>> {
  for (let attemptNo = 1; ; attemptNo++) {
    try {
      return { ok: true, value: await write() };
    } catch (err) {
      const reasons = failureReasons(err);
      if (!reasons) throw translate(err);
      if (reasons.some((r) => r.code === CONDITION_FAILED)) return { ok: false, reasons };
      if (reasons.every((r) => RETRYABLE.has(r.code)) && reasons.some((r) => r.code !== 'None')) {
        if (attemptNo < MAX_ATTEMPTS) {
          await sleep(Math.random() * 10 * 2 ** attemptNo);
          continue;
        }
        throw new ConflictError('Concurrent update', 'another request changed the same data at the same time; try again');
      }
      if (reasons.some((r) => r.code === 'ValidationError' && /size/i.test(r.message ?? ''))) throw tooLarge();
      throw err;
    }
  }
}

/** The failed-condition reason of the transaction item at `index` (0 for a single write). */
export function failedAt(outcome: Outcome<unknown>, index = 0): FailureReason | undefined {
  if (outcome.ok) return undefined;
  const reason = outcome.reasons[index];
  return reason?.code === CONDITION_FAILED ? reason : undefined;
}

/** The first transaction item whose condition failed (its index in the transaction, and why). */
export function firstFailure(outcome: Outcome<unknown>): { index: number; reason: FailureReason } | undefined {
  if (outcome.ok) return undefined;
  const index = outcome.reasons.findIndex((r) => r.code === CONDITION_FAILED);
  return index < 0 ? undefined : { index, reason: outcome.reasons[index]! };
}

/** Whether an error is DynamoDB's answer to a failed condition (for callers that swallow it). */
export function isConditionFailure(err: unknown): boolean {
  return failureReasons(err)?.some((r) => r.code === CONDITION_FAILED) ?? false;
}

/**
 * The error for a failed `attribute_exists(pk) AND version = :expected [AND immutable = :false]`
 * condition, worked out from the item as it stood.
 */
export function versionedWriteError(what: string, old: RawItem | undefined, expectedVersion: number): DomainError {
  if (!old) return new NotFoundError(`${capitalise(what)} not found`);
  if (rawString(old, 'condemnedAt') !== undefined) return new ConflictError(`${capitalise(what)} is expiring`, `the ${what} has expired and is being deleted`);
  if (rawBool(old, 'immutable') === true) return new ConflictError(`${capitalise(what)} is immutable`, `an immutable ${what} cannot be changed`);
  const found = rawNumber(old, 'version');
  if (found !== expectedVersion) {
    return new ConflictError(
      `${capitalise(what)} was changed concurrently`,
      `expected version ${expectedVersion}, found ${found ?? 'none'}; reload and try again`,
    );
  }
  return new ConflictError(`${capitalise(what)} was changed concurrently`, 'reload and try again');
}

export function rawNumber(item: RawItem | undefined, name: string): number | undefined {
  const v = item?.[name] as { N?: string } | undefined;
  return v?.N !== undefined ? Number(v.N) : undefined;
}

export function rawBool(item: RawItem | undefined, name: string): boolean | undefined {
  const v = item?.[name] as { BOOL?: boolean } | undefined;
  return v?.BOOL;
}

export function rawString(item: RawItem | undefined, name: string): string | undefined {
  const v = item?.[name] as { S?: string } | undefined;
  return v?.S;
}

function failureReasons(err: unknown): FailureReason[] | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { name?: string; Item?: RawItem; message?: string; CancellationReasons?: { Code?: string; Item?: RawItem; Message?: string }[] };
  switch (e.name) {
    case 'ConditionalCheckFailedException':
      return [{ code: CONDITION_FAILED, item: e.Item, message: e.message }];
    case 'TransactionConflictException':
      return [{ code: 'TransactionConflict', message: e.message }];
    case 'TransactionCanceledException':
      return (e.CancellationReasons ?? []).map((r) => ({ code: r.Code ?? 'None', item: r.Item, message: r.Message }));
    default:
      return undefined;
  }
}

function translate(err: unknown): unknown {
  const e = err as { name?: string; message?: string };
  if (e?.name === 'ValidationException' && /item size/i.test(e.message ?? '')) return tooLarge();
  return err;
}

function tooLarge(): DomainError {
  return new PayloadTooLargeError('Too large', 'the record exceeds the database item size limit (400 KB)');
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
