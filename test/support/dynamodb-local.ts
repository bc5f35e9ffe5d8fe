/**
 * The main table on DynamoDB Local (the integration project's global set-up puts its endpoint in the
 * environment) with the work-request and worker repositories on one document client, closed after the file.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { DynamoWorkerRepository } from '../../shared/adapters/dynamodb/worker-repository';
import { newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';

export function localRepositories() {
  const table = process.env.CONVEYOR_TABLE_MAIN!;
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  afterAll(() => doc.destroy());
  return { table, doc, requests: new DynamoWorkRequestRepository(doc, table), workers: new DynamoWorkerRepository(doc, table) };
}

/** A pending amd64 noop request of `System`, created 2026-11-22T10:00Z. */
export function noopRequest(id: number, overrides: Partial<WorkRequest> = {}): WorkRequest {
  const fields = { scope: 'debusine', workspace: 'System', createdBy: 'user:alice', taskType: 'Worker', taskName: 'noop', taskData: {} } as const;
  return newWorkRequest({ id, ...fields, hostArchitecture: 'amd64', createdAt: '2026-11-22T10:00:00.000Z', ...overrides });
}
