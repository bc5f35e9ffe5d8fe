/**
 * Scopes, workspaces, users, tokens and role grants in the main table. Layout and access
 * patterns: docs/data-model.md.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError } from '../../domain/errors';
import { pickFields } from '../../domain/fields';
import type { Role } from '../../domain/roles';
import type { RoleGrant, Scope, Token, User, Workspace } from '../../domain/tenancy';
import type { IdentityRepository } from '../../ports';
import { attempt, failedAt, versionedWriteError } from './errors';
import { GSI1, GSI2, type Key, indexKeys, keys, timeKey } from './keys';
import { compact, type Item, names, queryAll, touchLastSeen, updateVersioned, versionedPut, queryPartition } from './support';
import { hasQuota, quotaFromItem } from './quota-attributes';
import { hasExpirationDelay, workspaceExpiryKey, workspaceExpiryUpdate } from './workspace-expiry-keys';

export class DynamoIdentityRepository implements IdentityRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  // --- scopes -------------------------------------------------------------------------------

  async getScope(name: string): Promise<Scope | undefined> {
    const item = await this.get(keys.scope(name));
    return item && { name: item.name, label: item.label, createdAt: item.createdAt };
  }

  async createScopeIfAbsent(scope: Scope): Promise<boolean> {
    const item = { ...keys.scope(scope.name), entity: 'scope', name: scope.name, label: scope.label, createdAt: scope.createdAt };
    const outcome = await attempt(() => this.doc.send(this.putNew(item)));
    return outcome.ok;
  }

  // --- workspaces ---------------------------------------------------------------------------

  async getWorkspace(scope: string, name: string): Promise<Workspace | undefined> {
    const item = await this.get(keys.workspace(scope, name));
    return item && toWorkspace(item);
  }

  async createWorkspace(ws: Workspace): Promise<void> {
    const put = this.putNew(workspaceItem(ws, ws.version));
    // A workspace with an expiration delay enters the workspace expiry index in the same transaction.
    const outcome = await attempt(async () => {
      if (!hasExpirationDelay(ws)) return this.doc.send(put);
      return this.doc.send(new TransactWriteCommand({ TransactItems: [{ Put: put.input }, { Update: this.expiryEntryUpdate(ws) }] }));
    });
    if (!outcome.ok) throw new ConflictError('Workspace exists', `workspace "${ws.name}" already exists in scope "${ws.scope}"`);
  }

  async updateWorkspace(ws: Workspace, expectedVersion: number): Promise<void> {
    const put = versionedPut(this.tableName, workspaceItem(ws, expectedVersion + 1), expectedVersion);
    // The expiry index entry follows the delay: written (the pass recomputes when it is due) or removed.
    const entry = hasExpirationDelay(ws) ? { Update: this.expiryEntryUpdate(ws) } : { Delete: { TableName: this.tableName, Key: workspaceExpiryKey(ws.scope, ws.name) } };
    const outcome = await attempt(() => this.doc.send(new TransactWriteCommand({ TransactItems: [{ Put: put }, entry] })));
    const failed = failedAt(outcome);
    if (failed) throw versionedWriteError('workspace', failed.item, expectedVersion);
  }

  /** First looked at its creation + delay: never later than it can be due (a later finish only moves that on). */
  private expiryEntryUpdate(ws: Workspace) {
    return workspaceExpiryUpdate(this.tableName, ws, new Date(Date.parse(ws.createdAt) + ws.expirationDelay! * 1000).toISOString());
  }

  async listWorkspaces(scope: string): Promise<Workspace[]> {
    return (await this.queryIndex(GSI1, indexKeys.workspaces(scope))).map(toWorkspace);
  }

  // --- users --------------------------------------------------------------------------------

  async getUser(username: string): Promise<User | undefined> {
    const item = await this.get(keys.user(username));
    return item && toUser(item);
  }

  async createUser(user: User): Promise<void> {
    const item = compact({
      ...keys.user(user.username),
      entity: 'user',
      username: user.username,
      email: user.email,
      isAdmin: user.isAdmin,
      createdAt: user.createdAt,
      gsi1pk: indexKeys.users(),
      gsi1sk: user.username,
    });
    const outcome = await attempt(() => this.doc.send(this.putNew(item)));
    if (!outcome.ok) throw new ConflictError('User exists', `user "${user.username}" already exists`);
  }

  async listUsers(): Promise<User[]> {
    return (await this.queryIndex(GSI1, indexKeys.users())).map(toUser);
  }

  // --- tokens -------------------------------------------------------------------------------

  async getTokenByHash(hash: string): Promise<Token | undefined> {
    const item = await this.get(keys.token(hash));
    return item && toToken(item);
  }

  /** Through gsi2 (`TOKENID#<id>`): eventually consistent, like every index read. */
  async getTokenById(id: string): Promise<Token | undefined> {
    const items = await this.queryIndex(GSI2, indexKeys.tokenById(id));
    return items[0] && toToken(items[0]);
  }

  async createToken(token: Token): Promise<void> {
    const item = newTokenItem(token);
    const outcome = await attempt(() => this.doc.send(this.putNew(item)));
    if (!outcome.ok) throw new ConflictError('Token exists', 'a token with this key already exists');
  }

  /**
   * Writes every field except `lastSeenAt`, which only `touchToken` writes (so a concurrent
   * touch neither conflicts with nor is undone by an update).
   */
  async updateToken(token: Token, expectedVersion: number): Promise<void> {
    await updateVersioned(this.doc, this.tableName, keys.token(token.hash), 'token', tokenAttributes(token), expectedVersion);
  }

  async touchToken(hash: string, at: Date, minIntervalMs: number): Promise<void> {
    await touchLastSeen(this.doc, this.tableName, keys.token(hash), at, minIntervalMs);
  }

  async listTokens(username?: string): Promise<Token[]> {
    const items = await queryAll(this.doc, {
      TableName: this.tableName,
      IndexName: GSI1,
      KeyConditionExpression: username === undefined ? '#gsi1pk = :pk' : '#gsi1pk = :pk AND begins_with(#gsi1sk, :prefix)',
      ExpressionAttributeNames: username === undefined ? names('gsi1pk') : names('gsi1pk', 'gsi1sk'),
      ExpressionAttributeValues: username === undefined ? { ':pk': indexKeys.tokens() } : { ':pk': indexKeys.tokens(), ':prefix': `${username}#` },
    });
    return items.map(toToken);
  }

  // --- roles --------------------------------------------------------------------------------

  async getRole(scope: string, workspace: string, username: string): Promise<Role | undefined> {
    const item = await this.get(keys.role(scope, workspace, username));
    return item?.role as Role | undefined;
  }

  /** Grants (or changes) a role; the workspace and the user must exist. */
  async putRole(grant: RoleGrant): Promise<void> {
    const exists = (key: Key) => ({
      ConditionCheck: {
        TableName: this.tableName,
        Key: key,
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: names('pk'),
      },
    });
    const item = {
      ...keys.role(grant.scope, grant.workspace, grant.username),
      entity: 'role',
      scope: grant.scope,
      workspace: grant.workspace,
      username: grant.username,
      role: grant.role,
      grantedAt: grant.grantedAt,
      gsi1pk: indexKeys.rolesOfUser(grant.username),
      gsi1sk: `${grant.scope}#${grant.workspace}`,
    };
    const outcome = await attempt(() =>
      this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            exists(keys.workspace(grant.scope, grant.workspace)),
            exists(keys.user(grant.username)),
            { Put: { TableName: this.tableName, Item: item } },
          ],
        }),
      ),
    );
    if (failedAt(outcome, 0)) throw new NotFoundError('Workspace not found', `no workspace "${grant.workspace}" in scope "${grant.scope}"`);
    if (failedAt(outcome, 1)) throw new NotFoundError('User not found', `no user "${grant.username}"`);
  }

  async deleteRole(scope: string, workspace: string, username: string): Promise<boolean> {
    const res = await this.doc.send(
      new DeleteCommand({ TableName: this.tableName, Key: keys.role(scope, workspace, username), ReturnValues: 'ALL_OLD' }),
    );
    return res.Attributes !== undefined;
  }

  async listRoles(scope: string, workspace: string): Promise<RoleGrant[]> {
    const items = await queryPartition(this.doc, this.tableName, keys.workspace(scope, workspace).pk, { beginsWith: 'ROLE#' });
    return items.map(toRoleGrant);
  }

  async listRolesOfUser(username: string): Promise<RoleGrant[]> {
    return (await this.queryIndex(GSI1, indexKeys.rolesOfUser(username))).map(toRoleGrant);
  }

  // --- helpers ------------------------------------------------------------------------------

  private async get(key: Key): Promise<Item | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return res.Item;
  }

  private putNew(item: Item): PutCommand {
    return new PutCommand({
      TableName: this.tableName,
      Item: item,
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: names('pk'),
    });
  }

  private queryIndex(index: string, partition: string): Promise<Item[]> {
    const pkName = `${index}pk`;
    return queryAll(this.doc, {
      TableName: this.tableName,
      IndexName: index,
      KeyConditionExpression: `#${pkName} = :pk`,
      ExpressionAttributeNames: names(pkName),
      ExpressionAttributeValues: { ':pk': partition },
    });
  }
}

// Items <-> domain objects. Every domain field is stored under its own name.

function workspaceItem(ws: Workspace, version: number): Item {
  return {
    ...keys.workspace(ws.scope, ws.name),
    entity: 'workspace',
    ...pickFields(ws, ['scope', 'name', 'public']),
    defaultExpirationDelay: ws.defaultExpirationDelay ?? null,
    expirationDelay: ws.expirationDelay ?? null,
    defaultFileStore: ws.defaultFileStore,
    otherFileStores: [...ws.otherFileStores],
    createdAt: ws.createdAt,
    version,
    gsi1pk: indexKeys.workspaces(ws.scope),
    gsi1sk: ws.name,
  };
}

function toWorkspace(item: Item): Workspace {
  return {
    ...pickFields(item, ['scope', 'name', 'public']),
    defaultExpirationDelay: item.defaultExpirationDelay ?? null,
    expirationDelay: item.expirationDelay ?? null,
    defaultFileStore: item.defaultFileStore,
    otherFileStores: item.otherFileStores ?? [],
    createdAt: item.createdAt,
    version: item.version,
  };
}

function toUser(item: Item): User {
  // `disabled` and the quota attributes are written by accounts-repository.ts on the same item.
  return compact({ username: item.username, email: item.email, isAdmin: item.isAdmin, createdAt: item.createdAt, disabled: item.disabled === true ? true : undefined, quota: hasQuota(item) ? quotaFromItem(item) : undefined });
}

/** A whole token item (also written by accounts-repository.ts for the token lifecycle). */
export function newTokenItem(token: Token): Item {
  return compact({
    ...keys.token(token.hash),
    entity: 'token',
    ...tokenAttributes(token),
    id: token.id,
    hash: token.hash,
    createdAt: token.createdAt,
    lastSeenAt: token.lastSeenAt,
    version: token.version,
    gsi2pk: indexKeys.tokenById(token.id),
    gsi2sk: 'T',
  });
}

export const TOKEN_EXPIRY_SHARDS = 4;

/** gsi3 of a token that expires: `TOKEXP#<hash's first hex digit % 4>` / `<expireAt>#<id>` (token-expiry-store.ts). */
export function tokenExpiryIndex(token: Pick<Token, 'hash' | 'id' | 'expireAt'>): { gsi3pk: string; gsi3sk: string } | undefined {
  if (!token.expireAt) return undefined;
  const shard = (parseInt(token.hash.slice(0, 1), 16) || 0) % TOKEN_EXPIRY_SHARDS;
  return { gsi3pk: `TOKEXP#${shard}`, gsi3sk: `${new Date(token.expireAt).toISOString()}#${token.id}` };
}

/** The token fields an update may change, with the index key that depends on them. */
function tokenAttributes(token: Token): Record<string, unknown> {
  return {
    // The expiry pass finds expired tokens through this index (a token's expiry never changes).
    ...tokenExpiryIndex(token),
    username: token.username,
    workerName: token.workerName,
    // Only task tokens have one; it never changes, so other tokens need no REMOVE for it.
    ...(token.workRequestId !== undefined ? { workRequestId: token.workRequestId } : {}),
    purpose: token.purpose,
    status: token.status,
    enabled: token.enabled,
    comment: token.comment,
    expireAt: token.expireAt,
    gsi1pk: indexKeys.tokens(),
    // By owner, then by creation: listTokens(username) is a begins_with on `<username>#`
    // (usernames cannot contain "#"); tokens without an owner sort first.
    gsi1sk: `${token.username ?? ''}#${timeKey(token.createdAt, 'createdAt')}#${token.id}`,
  };
}

export function toToken(item: Item): Token {
  return compact({
    id: item.id,
    hash: item.hash,
    username: item.username,
    workerName: item.workerName,
    workRequestId: item.workRequestId === undefined ? undefined : Number(item.workRequestId),
    purpose: item.purpose,
    status: item.status,
    enabled: item.enabled,
    comment: item.comment,
    createdAt: item.createdAt,
    expireAt: item.expireAt,
    lastSeenAt: item.lastSeenAt,
    version: item.version,
  });
}

function toRoleGrant(item: Item): RoleGrant {
  return { scope: item.scope, workspace: item.workspace, username: item.username, role: item.role, grantedAt: item.grantedAt };
}
