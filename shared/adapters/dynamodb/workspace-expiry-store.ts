/**
 * WorkspaceExpiryStore on the main table: due workspaces from gsi3 `WSEXP#0` (one Query up to now,
 * no Scan); the workspace row is deleted conditional on its version, its index entry after it.
 * Keys: workspace-expiry-keys.ts.
 */
import { DeleteCommand, type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RecurringJob } from '../../domain/recurring-jobs';
import type { Workspace } from '../../domain/tenancy';
import { accountPartition } from './accounts-repository';
import { recurringKeys } from './recurring-job-repository';
import { templateKeys } from './workflow-template-repository';
import type { WorkspaceExpiryEntry, WorkspaceExpiryStore, WorkspaceScan } from '../../ports/workspace-expiry';
import { dueEntries } from './due-index';
import { attempt } from './errors';
import { keys } from './keys';
import { batchDelete, deleteIfUnchanged, names, queryAll } from './support';
import { WORKSPACE_EXPIRY_PREFIX, WORKSPACE_EXPIRY_SHARDS, workspaceExpiryIndex, workspaceExpiryKey } from './workspace-expiry-keys';

export class DynamoWorkspaceExpiryStore implements WorkspaceExpiryStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async dueWorkspaces(upTo: string, limit: number): Promise<WorkspaceExpiryEntry[]> {
    const rows = await dueEntries(this.doc, this.tableName, WORKSPACE_EXPIRY_PREFIX, WORKSPACE_EXPIRY_SHARDS, upTo, limit);
    return rows.map((row) => ({
      scope: String(row.scope),
      workspace: String(row.workspace),
      checkAt: String(row.gsi3sk).slice(0, 24),
      ...(row.scan ? { scan: row.scan as WorkspaceScan } : {}),
    }));
  }

  /** Moves the entry and drops its scan (only while it exists: a workspace deleted meanwhile gets no entry back). */
  async recheckWorkspace(scope: string, workspace: string, at: string | null): Promise<void> {
    const key = workspaceExpiryKey(scope, workspace);
    if (at === null) {
      await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: key }));
      return;
    }
    await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #gsi3sk = :sk REMOVE #scan',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: names('pk', 'gsi3sk', 'scan'),
          ExpressionAttributeValues: { ':sk': workspaceExpiryIndex(scope, workspace, at).gsi3sk },
        }),
      ),
    );
  }

  /** The scan rides on the entry (gsi3 projects it: the due Query returns it). */
  async saveScan(scope: string, workspace: string, scan: WorkspaceScan): Promise<void> {
    await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: workspaceExpiryKey(scope, workspace),
          UpdateExpression: 'SET #scan = :scan',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: names('pk', 'scan'),
          ExpressionAttributeValues: { ':scan': scan },
        }),
      ),
    );
  }

  async deleteWorkspace(ws: Workspace): Promise<boolean> {
    if (!(await deleteIfUnchanged(this.doc, this.tableName, keys.workspace(ws.scope, ws.name), { version: ws.version }))) return false;
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: workspaceExpiryKey(ws.scope, ws.name) }));
    return true;
  }

  async deleteTemplateRuns(scope: string, workspace: string, name: string): Promise<void> {
    await this.deletePartition(templateKeys.runPartition(scope, workspace, name));
  }

  /** The job row first (conditional on its version: nothing else goes when it fails), then its results and events. */
  async deleteRecurringJob(job: RecurringJob): Promise<boolean> {
    const jobKey = recurringKeys.job(job.id);
    if (!(await deleteIfUnchanged(this.doc, this.tableName, jobKey, { version: job.version }))) return false;
    await this.deletePartition(jobKey.pk);
    return true;
  }

  async deleteUsageRecords(scope: string, workspace: string): Promise<void> {
    await this.deletePartition(accountPartition({ kind: 'workspace', scope, workspace }));
  }

  private async deletePartition(pk: string): Promise<void> {
    const rows = await queryAll(this.doc, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: names('pk', 'sk'),
      ExpressionAttributeValues: { ':pk': pk },
      ProjectionExpression: '#pk, #sk',
      ConsistentRead: true,
    });
    await batchDelete(this.doc, this.tableName, rows.map((r) => ({ pk: String(r.pk), sk: String(r.sk) })));
  }
}
