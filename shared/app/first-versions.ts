import type { Deps } from '../ports';

/**
 * Stores a new record as its first version (version 1, created now) and returns it. The
 * repository's `create` is conditional on the id being free, so a record is never created twice.
 */
export async function createFirstVersion<T extends { createdAt: string; version: number }>(
  deps: Pick<Deps, 'clock'>,
  repository: { create(record: T): Promise<void> },
  fields: Omit<T, 'createdAt' | 'version'>,
): Promise<T> {
  const record = { ...fields, createdAt: deps.clock.now().toISOString(), version: 1 } as T;
  await repository.create(record);
  return record;
}
