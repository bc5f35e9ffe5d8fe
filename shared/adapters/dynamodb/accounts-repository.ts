/**
 * Accounts in the main table (docs/data-model.md, "Accounts and quotas"):
 * - a user's status and quota live on the user item (`USER#<name>` / `U`), which authentication
 *   reads anyway: `disabled`, `quotaCpuLimit`, `quotaCpuUsed`, `quotaDiskLimit`, `quotaDiskUsed`;
 * - a workspace's quota: `ACCT#ws#<scope>#<workspace>` / `QUOTA` (listed through gsi1 `ACCOUNTS`);
 * - per account, one contribution per source (`SRC#artifact#<id>`, `SRC#work-request#<id>`) and one
 *   reference item per distinct file (`FILE#<sha256>-<size>`), under `ACCT#<account>`;
 * - the (user, purpose) token claim: `USER#<name>` / `CLAIM#<purpose>`.
 * Every accounting step is one TransactWriteItems conditioned on the versions read.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError } from '../../domain/errors';
import { RESOURCES, type Account, type Quota, type Resource } from '../../domain/quotas';
import type { Token, User } from '../../domain/tenancy';
import type { AccountingChange, AccountingRewrite, AccountsRepository, Contribution, FileReference, SchemaChange, SchemaStore, UsageSource } from '../../ports/accounts';
import { attempt, failedAt, firstFailure } from './errors';
import { indexKeys, keys, padId, type Key } from './keys';
import { attemptTransaction, batchGet, compact, type Item, names, queryPartition, queryIndexPartition, updateIf } from './support';
import { newTokenItem } from './identity-repository';
import { QUOTA_ATTR, quotaFromItem } from './quota-attributes';
import { accountPartition, DynamoQuotaReader, noHash, quotaKey } from './quota-reader';
import { moveListingEntries } from './work-request-listing-migration';

export { accountPartition } from './quota-reader';

const ACCOUNTS_INDEX = 'ACCOUNTS';

function sourceSortKey(source: UsageSource): string {
  return `SRC#${source.kind}#${padId(source.id)}`;
}

function claimKey(username: string, purpose: string): Key {
  return { pk: keys.user(username).pk, sk: `CLAIM#${noHash(purpose, 'purpose')}` };
}

export class DynamoAccountsRepository implements AccountsRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async setUserDisabled(username: string, disabled: boolean): Promise<User> {
    const outcome = await updateIf(this.doc, {
      TableName: this.tableName,
      Key: keys.user(username),
      UpdateExpression: 'SET #disabled = :disabled',
      ConditionExpression: 'attribute_exists(#pk)',
      ExpressionAttributeNames: names('pk', 'disabled'),
      ExpressionAttributeValues: { ':disabled': disabled },
      ReturnValues: 'ALL_NEW',
    });
    if (!outcome.ok) throw new NotFoundError('Not found', `no user "${username}"`);
    const item = outcome.value.Attributes!;
    return compact({ username: item.username, email: item.email, isAdmin: item.isAdmin, createdAt: item.createdAt, disabled, quota: quotaFromItem(item) });
  }

  private claimPut(token: Token) {
    return {
      Put: {
        TableName: this.tableName,
        Item: { ...claimKey(token.username!, token.purpose), entity: 'token-claim', tokenId: token.id },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: names('pk'),
      },
    };
  }

  private tokenPut(token: Token) {
    return { Put: { TableName: this.tableName, Item: newTokenItem(token), ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names('pk') } };
  }

  async requestToken(token: Token): Promise<void> {
    await this.claimAndPut(token);
  }

  async createClaimedToken(token: Token): Promise<void> {
    await this.claimAndPut(token);
  }

  private async claimAndPut(token: Token): Promise<void> {
    const outcome = await attempt(() => this.doc.send(new TransactWriteCommand({ TransactItems: [this.claimPut(token), this.tokenPut(token)] })));
    if (failedAt(outcome, 0)) throw new ConflictError('Token exists', `user "${token.username}" already has a ${token.purpose} token requested or active`);
    if (!outcome.ok) throw new ConflictError('Token exists', 'a token with this key already exists');
  }

  async grantRequestedToken(requested: Token, granted: Token): Promise<void> {
    const outcome = await attempt(() =>
      this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.tableName,
                Key: keys.token(requested.hash),
                ConditionExpression: '#status = :requested AND #version = :version',
                ExpressionAttributeNames: names('status', 'version'),
                ExpressionAttributeValues: { ':requested': 'requested', ':version': requested.version },
              },
            },
            this.tokenPut(granted),
          ],
        }),
      ),
    );
    if (failedAt(outcome, 0)) throw new ConflictError('Conflict', `token "${requested.id}" is no longer requested`);
    if (!outcome.ok) throw new ConflictError('Token exists', 'a token with this key already exists');
  }

  async revokeClaimedToken(token: Token, expectedVersion: number): Promise<void> {
    const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.token(token.hash),
          UpdateExpression: 'SET #status = :status, #enabled = :enabled, #version = :next',
          ConditionExpression: 'attribute_exists(#pk) AND #version = :expected',
          ExpressionAttributeNames: names('pk', 'status', 'enabled', 'version'),
          ExpressionAttributeValues: { ':status': token.status, ':enabled': token.enabled, ':next': token.version, ':expected': expectedVersion },
        },
      },
    ];
    const holder = token.username ? await this.claimedToken(token.username, token.purpose) : undefined;
    if (holder === token.id) {
      items.push({
        Delete: {
          TableName: this.tableName,
          Key: claimKey(token.username!, token.purpose),
          ConditionExpression: '#tokenId = :id',
          ExpressionAttributeNames: names('tokenId'),
          ExpressionAttributeValues: { ':id': token.id },
        },
      });
    }
    const outcome = await attempt(() => this.doc.send(new TransactWriteCommand({ TransactItems: items })));
    if (!outcome.ok) throw new ConflictError('Conflict', 'token changed concurrently');
  }

  async claimedToken(username: string, purpose: string): Promise<string | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: claimKey(username, purpose), ConsistentRead: true }));
    return res.Item?.tokenId as string | undefined;
  }

  async putClaim(username: string, purpose: string, tokenId: string): Promise<boolean> {
    const outcome = await attempt(() => this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...claimKey(username, purpose), entity: 'token-claim', tokenId }, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names('pk') })));
    return outcome.ok;
  }

  async deleteClaim(username: string, purpose: string): Promise<boolean> {
    const res = await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: claimKey(username, purpose), ReturnValues: 'ALL_OLD' }));
    return res.Attributes !== undefined;
  }

  async initialiseUserQuota(username: string, limits: Record<Resource, number>): Promise<void> {
    const sets = RESOURCES.flatMap((r) => [`#${QUOTA_ATTR[r].limit} = if_not_exists(#${QUOTA_ATTR[r].limit}, :${r}Limit)`, `#${QUOTA_ATTR[r].used} = if_not_exists(#${QUOTA_ATTR[r].used}, :zero)`]);
    const values: Item = { ':zero': 0, ':schema': 1 };
    for (const r of RESOURCES) values[`:${r}Limit`] = limits[r];
    await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.user(username),
          UpdateExpression: `SET ${[...sets, '#schemaVersion = :schema'].join(', ')}`,
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: names('pk', 'schemaVersion', ...RESOURCES.flatMap((r) => [QUOTA_ATTR[r].limit, QUOTA_ATTR[r].used])),
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  async removeUserQuota(username: string): Promise<void> {
    const attrs = RESOURCES.flatMap((r) => [QUOTA_ATTR[r].limit, QUOTA_ATTR[r].used]);
    await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.user(username),
          UpdateExpression: `REMOVE ${[...attrs, 'schemaVersion'].map((a) => `#${a}`).join(', ')}`,
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: names('pk', 'schemaVersion', ...attrs),
        }),
      ),
    );
  }

  getQuota(account: Account): Promise<Quota> {
    return new DynamoQuotaReader(this.doc, this.tableName).getQuota(account);
  }

  /** SET and ADD clauses on the quota item; a workspace's is created on first use (and indexed for listAccounts). */
  private quotaUpdate(account: Account, clauses: { set?: string[]; add?: string[] }, values: Item, attrNames: string[], condition?: string) {
    const set = [...(clauses.set ?? [])];
    const extraNames: string[] = [];
    let extraValues: Item = {};
    if (account.kind === 'workspace') {
      set.push('#entity = :entity', '#scope = :scope', '#workspace = :workspace', '#gsi1pk = :gsi1pk', '#gsi1sk = :gsi1sk');
      extraNames.push('entity', 'scope', 'workspace', 'gsi1pk', 'gsi1sk');
      extraValues = { ':entity': 'workspace-quota', ':scope': account.scope, ':workspace': account.workspace, ':gsi1pk': ACCOUNTS_INDEX, ':gsi1sk': accountPartition(account) };
    } else {
      extraNames.push('pk');
    }
    const expression = [set.length ? `SET ${set.join(', ')}` : '', clauses.add?.length ? `ADD ${clauses.add.join(', ')}` : ''].filter(Boolean).join(' ');
    const conditions = [account.kind === 'user' ? 'attribute_exists(#pk)' : '', condition ?? ''].filter(Boolean);
    return {
      TableName: this.tableName,
      Key: quotaKey(account),
      UpdateExpression: expression,
      ...(conditions.length ? { ConditionExpression: conditions.join(' AND ') } : {}),
      ExpressionAttributeNames: names(...attrNames, ...extraNames),
      ExpressionAttributeValues: { ...values, ...extraValues },
    };
  }

  async setLimit(account: Account, resource: Resource, limit: number): Promise<Quota> {
    const attr = QUOTA_ATTR[resource].limit;
    const outcome = await attempt(() =>
      this.doc.send(new UpdateCommand({ ...this.quotaUpdate(account, { set: [`#${attr} = :limit`] }, { ':limit': limit }, [attr]), ReturnValues: 'ALL_NEW' })),
    );
    if (!outcome.ok) throw new NotFoundError('Not found', account.kind === 'user' ? `no user "${account.username}"` : 'no such workspace');
    return quotaFromItem(outcome.value.Attributes);
  }

  async correctUsed(account: Account, resource: Resource, expected: number, used: number): Promise<boolean> {
    const attr = QUOTA_ATTR[resource].used;
    const outcome = await attempt(() =>
      this.doc.send(
        new UpdateCommand(
          this.quotaUpdate(account, { set: [`#${attr} = :used`] }, { ':used': used, ':expected': expected }, [attr], expected === 0 ? `(attribute_not_exists(#${attr}) OR #${attr} = :expected)` : `#${attr} = :expected`),
        ),
      ),
    );
    return outcome.ok;
  }

  async getContribution(account: Account, source: UsageSource): Promise<Contribution | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: accountPartition(account), sk: sourceSortKey(source) }, ConsistentRead: true }));
    return res.Item && { cpu: Number(res.Item.cpu ?? 0), files: (res.Item.files as string[] | undefined) ?? [], version: Number(res.Item.version) };
  }

  async getFileRefs(account: Account, fileKeys: string[]): Promise<Map<string, FileReference>> {
    const pk = accountPartition(account);
    const items = await batchGet(this.doc, this.tableName, fileKeys.map((k) => ({ pk, sk: `FILE#${k}` })), { consistent: true });
    return new Map(items.map((i) => [i.fileKey as string, toFileRef(i)]));
  }

  async applyAccounting(change: AccountingChange): Promise<void> {
    await this.rewriteAccounting({ account: change.account, contributions: [{ source: change.source, ...change.contribution }], fileRefs: change.fileRefs, usageDelta: change.usageDelta });
  }

  async rewriteAccounting(change: AccountingRewrite): Promise<void> {
    const pk = accountPartition(change.account);
    const versioned = (expected: number | undefined) =>
      expected === undefined
        ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names('pk') }
        : { ConditionExpression: '#version = :expected', ExpressionAttributeNames: names('version'), ExpressionAttributeValues: { ':expected': expected } };
    const write = (key: Key, expected: number | undefined, next: Item | null) =>
      next
        ? { Put: { TableName: this.tableName, Item: { ...key, ...next, version: (expected ?? 0) + 1 }, ...versioned(expected) } }
        : expected === undefined
          ? { ConditionCheck: { TableName: this.tableName, Key: key, ...versioned(expected) } }
          : { Delete: { TableName: this.tableName, Key: key, ...versioned(expected) } };
    const items: object[] = [
      ...change.contributions.map((c) => write({ pk, sk: sourceSortKey(c.source) }, c.expectedVersion, c.next && { entity: 'usage-contribution', ...c.next })),
      ...change.fileRefs.map((r) => write({ pk, sk: `FILE#${r.fileKey}` }, r.expectedVersion, r.next && { entity: 'file-reference', fileKey: r.fileKey, ...r.next })),
    ];
    const deltas = Object.entries(change.usageDelta).filter(([, d]) => d !== 0) as [Resource, number][];
    if (deltas.length) {
      const attrs = deltas.map(([r]) => QUOTA_ATTR[r].used);
      const values: Item = Object.fromEntries(deltas.map(([r, d]) => [`:${QUOTA_ATTR[r].used}`, d]));
      items.push({ Update: this.quotaUpdate(change.account, { add: attrs.map((a) => `#${a} :${a}`) }, values, attrs) });
    }
    if (items.length === 0) return;
    const outcome = await attempt(() => this.doc.send(new TransactWriteCommand({ TransactItems: items as never })));
    if (!outcome.ok) {
      const failed = firstFailure(outcome);
      if (failed && failed.index === items.length - 1 && deltas.length && change.account.kind === 'user') throw new NotFoundError('Not found', `no user "${change.account.username}"`);
      throw new ConflictError('Conflict', 'accounting state changed concurrently');
    }
  }

  async listAccounts(): Promise<Account[]> {
    const users = await queryIndexPartition(this.doc, this.tableName, indexKeys.users(), 'username');
    const workspaces = await queryIndexPartition(this.doc, this.tableName, ACCOUNTS_INDEX);
    return [
      ...users.map((u): Account => ({ kind: 'user', username: u.username as string })),
      ...workspaces.map((w): Account => ({ kind: 'workspace', scope: w.scope as string, workspace: w.workspace as string })),
    ];
  }

  private async partition(account: Account, prefix: string): Promise<Item[]> {
    return queryPartition(this.doc, this.tableName, accountPartition(account), { beginsWith: prefix });
  }

  async listContributions(account: Account) {
    return (await this.partition(account, 'SRC#')).map((i) => {
      const [, kind, id] = (i.sk as string).split('#') as [string, 'artifact' | 'work-request', string];
      return { source: { kind, id: Number(id) } as UsageSource, contribution: { cpu: Number(i.cpu ?? 0), files: (i.files as string[]) ?? [], version: Number(i.version) } };
    });
  }

  async listFileRefs(account: Account): Promise<FileReference[]> {
    return (await this.partition(account, 'FILE#')).map(toFileRef);
  }
}

function toFileRef(i: Item): FileReference {
  return { fileKey: i.fileKey as string, size: Number(i.size), artifacts: ((i.artifacts as number[]) ?? []).map(Number), version: Number(i.version) };
}


/** The schema revision: `SCHEMA`/`CURRENT` (`revision`), and one `SCHEMA`/`H#<at>#<n>` item per change. */
export class DynamoSchemaStore implements SchemaStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async current(): Promise<string | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: 'SCHEMA', sk: 'CURRENT' }, ConsistentRead: true }));
    return res.Item?.revision as string | undefined;
  }

  async move(expected: string | undefined, to: string, change: SchemaChange): Promise<void> {
    const outcome = await attemptTransaction(this.doc, [
      {
        Put: {
          TableName: this.tableName,
          Item: { pk: 'SCHEMA', sk: 'CURRENT', entity: 'schema', revision: to },
          ...(expected === undefined
            ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: names('pk') }
            : { ConditionExpression: '#revision = :expected', ExpressionAttributeNames: names('revision'), ExpressionAttributeValues: { ':expected': expected } }),
        },
      },
      { Put: { TableName: this.tableName, Item: { pk: 'SCHEMA', sk: `H#${change.at}#${Math.random().toString(36).slice(2, 8)}`, entity: 'schema-change', ...change } } },
    ]);
    if (!outcome.ok) throw new ConflictError('Schema moved', `the schema revision is no longer ${expected ?? 'unset'}: another migration ran`);
  }

  async history(): Promise<SchemaChange[]> {
    const items = await queryPartition(this.doc, this.tableName, 'SCHEMA', { beginsWith: 'H#' });
    return items.map((i) => ({ at: i.at, actor: i.actor, action: i.action, from: i.from, to: i.to }));
  }

  /** See work-request-listing-migration.ts. */
  moveWorkRequestListing(direction: 'upgrade' | 'downgrade'): Promise<number> {
    return direction === 'upgrade' ? moveListingEntries(this.doc, this.tableName, 'gsi1', 'gsi4') : moveListingEntries(this.doc, this.tableName, 'gsi4', 'gsi1');
  }
}
