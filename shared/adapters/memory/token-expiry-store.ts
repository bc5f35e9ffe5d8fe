/** In-memory TokenExpiryStore over MemoryIdentityRepository's tokens, with the DynamoDB adapter's condition. */
import type { Token } from '../../domain/tenancy';
import type { TokenExpiryStore } from '../../ports/token-expiry';
import type { MemoryIdentityRepository } from './index';

export class MemoryTokenExpiryStore implements TokenExpiryStore {
  constructor(private readonly identity: MemoryIdentityRepository) {}

  async expiredTokens(upTo: string, limit: number): Promise<Token[]> {
    return [...this.identity.tokens.values()]
      .filter((t) => t.expireAt !== undefined && new Date(t.expireAt).toISOString() <= upTo)
      .sort((a, b) => (a.expireAt! < b.expireAt! ? -1 : a.expireAt! > b.expireAt! ? 1 : a.id < b.id ? -1 : 1))
      .slice(0, limit)
      .map((t) => structuredClone(t));
  }

  async deleteExpiredToken(token: Token): Promise<boolean> {
    const stored = this.identity.tokens.get(token.hash);
    if (!stored || stored.version !== token.version || stored.expireAt !== token.expireAt) return false;
    this.identity.tokens.delete(token.hash);
    return true;
  }
}
