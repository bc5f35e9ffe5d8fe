/**
 * What the token step of the expiry pass (shared/app/token-expiry.ts) needs: tokens whose
 * `expireAt` has passed, from an index keyed by that time (never a scan), and a delete conditional
 * on the token read. Adapters: dynamodb/token-expiry-store.ts, memory/token-expiry-store.ts.
 */
import type { Token } from '../domain/tenancy';

export interface TokenExpiryStore {
  /** Tokens whose `expireAt` is at or before `upTo`, oldest first, at most `limit`. */
  expiredTokens(upTo: string, limit: number): Promise<Token[]>;
  /** Deletes the token, conditional on it being the version read (same `version` and `expireAt`). */
  deleteExpiredToken(token: Token): Promise<boolean>;
}
