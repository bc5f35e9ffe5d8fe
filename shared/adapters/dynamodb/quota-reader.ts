/**
 * Quota reads (the QuotaReader port): one GetItem of the account's quota, a user's on the user
 * item and a workspace's on `ACCT#ws#<scope>#<workspace>` / `QUOTA` (docs/data-model.md, "Accounts
 * and quotas"). A module of its own, with the account keys the accounts repository shares, so that
 * the functions that only enforce quotas do not bundle that repository.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Account, Quota } from '../../domain/quotas';
import type { QuotaReader } from '../../ports/accounts';
import { keys, type Key } from './keys';
import { quotaFromItem } from './quota-attributes';

export function noHash(value: string, field: string): string {
  if (value.length === 0 || value.includes('#')) throw new Error(`${field} must be non-empty and must not contain "#"`);
  return value;
}

export function accountPartition(account: Account): string {
  return account.kind === 'user' ? `ACCT#user#${noHash(account.username, 'username')}` : `ACCT#ws#${noHash(account.scope, 'scope')}#${noHash(account.workspace, 'workspace')}`;
}

export function quotaKey(account: Account): Key {
  return account.kind === 'user' ? keys.user(account.username) : { pk: accountPartition(account), sk: 'QUOTA' };
}

export class DynamoQuotaReader implements QuotaReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getQuota(account: Account): Promise<Quota> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: quotaKey(account) }));
    return quotaFromItem(res.Item);
  }
}
