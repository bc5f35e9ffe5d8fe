/**
 * The token expiry index (docs/data-model.md, "Expiry"): a token item with an `expireAt` carries
 * gsi3 `TOKEXP#<first hex digit of its hash % 4>` / `<expireAt>#<id>` (identity-repository.ts,
 * tokenAttributes). The pass Queries the four shards up to now: what it reads is what has expired.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Token } from '../../domain/tenancy';
import type { TokenExpiryStore } from '../../ports/token-expiry';
import { TOKEN_EXPIRY_SHARDS, toToken } from './identity-repository';
import { dueEntries } from './due-index';
import { keys } from './keys';
import { deleteIfUnchanged } from './support';

export class DynamoTokenExpiryStore implements TokenExpiryStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async expiredTokens(upTo: string, limit: number): Promise<Token[]> {
    return (await dueEntries(this.doc, this.tableName, 'TOKEXP#', TOKEN_EXPIRY_SHARDS, upTo, limit)).map(toToken);
  }

  async deleteExpiredToken(token: Token): Promise<boolean> {
    return deleteIfUnchanged(this.doc, this.tableName, keys.token(token.hash), { version: token.version, expireAt: token.expireAt });
  }
}
