/** The ExpiryStore that goes with a set of deps (the same backend as their artifact repository). */
import type { Deps } from '../ports';
import type { ExpiryStore } from '../ports/expiry';
import { DynamoArtifactRepository } from './dynamodb/artifact-repository';
import { dynamoExpiryStore, type DynamoExpiryStore } from './dynamodb/expiry-store';
import { MemoryArtifactRepository, type MemoryDeps } from './memory';
import { MemoryExpiryStore } from './memory/expiry-store';

export function expiryStoreFor(deps: Deps): ExpiryStore {
  if (deps.artifacts instanceof DynamoArtifactRepository) return dynamoExpiryStore(deps.artifacts);
  if (deps.artifacts instanceof MemoryArtifactRepository) return new MemoryExpiryStore(deps as MemoryDeps);
  throw new Error('expiry: no ExpiryStore for this artifact repository');
}

/** The one-off backfill of the expiry indexes (DynamoDB only: the memory store needs none). */
export async function backfillExpiryIndexes(deps: Deps): Promise<{ artifacts: number; files: number; items: number }> {
  const store = expiryStoreFor(deps);
  if (!('backfill' in store)) return { artifacts: 0, files: 0, items: 0 };
  return (store as DynamoExpiryStore).backfill();
}
