/**
 * WorkspaceExpiryStore on the main table: due workspaces from gsi3 `WSEXP#0` (one Query up to now,
 * no Scan); the workspace row is deleted conditional on its version, its index entry after it.
 * Keys: workspace-expiry-keys.ts.
 */
import { DeleteCommand, type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Workspace } from '../../domain/tenancy';
import type { WorkspaceExpiryEntry, WorkspaceExpiryStore } from '../../ports/workspace-expiry';
import { dueEntries } from './due-index';
import { attempt } from './errors';
import { keys } from './keys';
import { deleteIfUnchanged, names } from './support';
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
    }));
  }

  /** Moves the entry (only while it exists: a workspace deleted meanwhile gets no entry back). */
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
          UpdateExpression: 'SET #gsi3sk = :sk',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: names('pk', 'gsi3sk'),
          ExpressionAttributeValues: { ':sk': workspaceExpiryIndex(scope, workspace, at).gsi3sk },
        }),
      ),
    );
  }

  async deleteWorkspace(ws: Workspace): Promise<boolean> {
    if (!(await deleteIfUnchanged(this.doc, this.tableName, keys.workspace(ws.scope, ws.name), { version: ws.version }))) return false;
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: workspaceExpiryKey(ws.scope, ws.name) }));
    return true;
  }
}
