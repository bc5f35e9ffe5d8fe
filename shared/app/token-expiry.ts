/**
 * The token step of the expiry pass: tokens past their `expireAt` (short-lived task tokens, and
 * any token given an expiry) are deleted, each in the audit log. Expired tokens already authenticate
 * nothing (shared/domain/tenancy.ts); this removes their rows. Bounded: the expired ones come from
 * the token expiry index, at most `maxTokens` a pass, oldest first; the rest wait for the next.
 */
import { tokenExpired } from '../domain/expiry';
import type { Deps } from '../ports';
import type { TokenExpiryStore } from '../ports/token-expiry';
import { recordAudit } from './audit';
import { dueInBounds } from './bounded-steps';

export interface ExpiredTokenRef {
  id: string;
  username: string | null;
  purpose: string;
  expire_at: string;
}

export interface TokenExpiryReport {
  /** Deleted (a dry run: would be deleted), with why: the expiry date passed. */
  deleted: ExpiredTokenRef[];
  finished: boolean;
}

export const DEFAULT_MAX_TOKENS = 500;

export async function deleteExpiredTokens(
  deps: Deps,
  store: TokenExpiryStore,
  opts: { dryRun: boolean; maxTokens?: number; outOfTime?: () => boolean },
): Promise<TokenExpiryReport> {
  const report: TokenExpiryReport = { deleted: [], finished: true };
  const now = deps.clock.now();
  const expired = await dueInBounds(report, (dueBy, max) => store.expiredTokens(dueBy, max), { now, max: opts.maxTokens ?? DEFAULT_MAX_TOKENS, outOfTime: opts.outOfTime });
  for (const token of expired) {
    if (!tokenExpired(token, now)) continue; // the index said so; the row decides
    const ref: ExpiredTokenRef = { id: token.id, username: token.username ?? null, purpose: token.purpose, expire_at: token.expireAt! };
    if (opts.dryRun) {
      report.deleted.push(ref);
      continue;
    }
    if (await store.deleteExpiredToken(token)) {
      report.deleted.push(ref);
      await recordAudit(deps, 'system:expiry', 'token.expired', { token: token.id, username: ref.username, purpose: token.purpose, expire_at: token.expireAt });
    }
  }
  return report;
}
