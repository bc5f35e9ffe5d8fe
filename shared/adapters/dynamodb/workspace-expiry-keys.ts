/**
 * The workspace expiry index in the main table (docs/data-model.md, "Expiry"): a workspace with an
 * `expiration_delay` has a `WS#<scope>#<name>` / `EXPIRY` item carrying gsi3 `WSEXP#0` /
 * `<check time>#<scope>/<name>`, put in the same transaction as the workspace row (removed when
 * the delay is removed), and `lastFinishedAt`, raised by the commit that stores a root work request
 * of the workspace finished. The pass reads only due entries and moves them to last finish + delay.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Workspace } from '../../domain/tenancy';
import { isFinished, type WorkRequest } from '../../domain/work-requests';
import { attempt } from './errors';
import { keys } from './keys';
import { names } from './support';

export const WORKSPACE_EXPIRY_PREFIX = 'WSEXP#';
/** Few workspaces have a delay: one partition. */
export const WORKSPACE_EXPIRY_SHARDS = 1;

export function workspaceExpiryKey(scope: string, workspace: string) {
  return { pk: keys.workspace(scope, workspace).pk, sk: 'EXPIRY' };
}

export function workspaceExpiryIndex(scope: string, workspace: string, checkAt: string) {
  return { gsi3pk: `${WORKSPACE_EXPIRY_PREFIX}0`, gsi3sk: `${new Date(checkAt).toISOString()}#${scope}/${workspace}` };
}

/** Whether a workspace is in the index at all. */
export function hasExpirationDelay(ws: Pick<Workspace, 'expirationDelay'>): boolean {
  return !!ws.expirationDelay && ws.expirationDelay > 0;
}

/**
 * The entry of a workspace with a delay, as an Update (it keeps `lastFinishedAt`): first looked at
 * `checkAt` (its creation + delay; a change of delay: at once, the pass recomputes the due time).
 */
export function workspaceExpiryUpdate(tableName: string, ws: Workspace, checkAt: string) {
  const index = workspaceExpiryIndex(ws.scope, ws.name, checkAt);
  return {
    TableName: tableName,
    Key: workspaceExpiryKey(ws.scope, ws.name),
    UpdateExpression: 'SET #entity = :entity, #scope = :scope, #workspace = :workspace, #gsi3pk = :gsi3pk, #gsi3sk = :gsi3sk',
    ExpressionAttributeNames: names('entity', 'scope', 'workspace', 'gsi3pk', 'gsi3sk'),
    ExpressionAttributeValues: { ':entity': 'workspaceExpiry', ':scope': ws.scope, ':workspace': ws.name, ':gsi3pk': index.gsi3pk, ':gsi3sk': index.gsi3sk },
  };
}

/**
 * Raises `lastFinishedAt` on the entry of each finished root's workspace, when the entry exists (a
 * workspace without a delay has none: the condition fails and nothing is written).
 */
export async function noteWorkspaceRootsFinished(doc: DynamoDBDocumentClient, tableName: string, requests: WorkRequest[]): Promise<void> {
  for (const wr of requests) {
    if (wr.parent !== null || !isFinished(wr)) continue;
    const at = new Date(wr.completedAt ?? wr.createdAt).toISOString();
    await attempt(() =>
      doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: workspaceExpiryKey(wr.scope, wr.workspace),
          UpdateExpression: 'SET #lastFinishedAt = :at',
          ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(#lastFinishedAt) OR #lastFinishedAt < :at)',
          ExpressionAttributeNames: names('pk', 'lastFinishedAt'),
          ExpressionAttributeValues: { ':at': at },
        }),
      ),
    );
  }
}
