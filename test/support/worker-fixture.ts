/** A connected, enabled external worker with no metadata and nothing assigned: the DynamoDB worker tests' fixture. */
import { randomUUID } from 'node:crypto';
import type { Worker } from '../../shared/domain/workers';

export function externalWorker(name: string, overrides: Partial<Worker> = {}): Worker {
  return {
    name,
    tokenHash: randomUUID().replace(/-/g, ''),
    workerType: 'external',
    enabled: true,
    registeredAt: '2026-11-22T09:00:00.000Z',
    connectedAt: '2026-11-22T09:00:01.000Z',
    lastSeenAt: null,
    staticMetadata: {},
    dynamicMetadata: {},
    dynamicMetadataUpdatedAt: null,
    concurrency: 1,
    assigned: 0,
    queueUrl: null,
    version: 1,
    ...overrides,
  };
}
