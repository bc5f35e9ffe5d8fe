/**
 * The workspace expiry index in the main table (docs/data-model.md, "Expiry"): a workspace with an
 * `expiration_delay` has a `WS#<scope>#<name>` / `EXPIRY` item carrying gsi3 `WSEXP#0` /
 * `<check time>#<scope>/<name>`, put in the same transaction as the workspace row (removed when
 * the delay is removed). The pass reads only due entries; one whose workspace ran work since moves
 * to last finish + delay (the pass reads the finish times then: finishing a request writes nothing
 * here, so workspaces without a delay pay nothing).
 */
import type { Workspace } from '../../domain/tenancy';
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
 * The entry of a workspace with a delay, as an Update: first looked at
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
