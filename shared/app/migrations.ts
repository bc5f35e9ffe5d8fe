/**
 * Schema migrations of the stored items (Alembic's verbs: current, history, upgrade, downgrade).
 * Each revision's upgrade and downgrade are idempotent, item by item (conditional writes that
 * skip what is already done), so a run that stops half way is resumed by running it again. The
 * current revision advances only after a revision's step completed, conditionally on the revision
 * it started from: two racing runs cannot both move it. `db init` of a fresh table stamps the newest.
 */
import { ConflictError, ValidationError } from '../domain/errors';
import { RESOURCES } from '../domain/quotas';
import type { Deps } from '../ports';
import { recordAudit } from './audit';
import { quotaSettingsOf } from './quotas';
import { freeSlotIndexMigration } from './free-slot-migration';
import { listingIndexMigration } from './listing-index-migration';

export interface Migration {
  rev: string;
  description: string;
  upgrade(deps: Deps): Promise<number>;
  downgrade(deps: Deps): Promise<number>;
}

/** Before any revision: the item shapes of the version before accounts (issue 11). */
export const BASE_REVISION = 'base';

export const MIGRATIONS: Migration[] = [
  {
    rev: '0001_user_quotas',
    description: 'users carry quota attributes (limits from the configured defaults, usage 0)',
    async upgrade(deps) {
      let changed = 0;
      const { defaultLimits } = quotaSettingsOf(deps);
      for (const user of await deps.identity.listUsers()) {
        if (user.quota) continue;
        await deps.accounts.initialiseUserQuota(user.username, defaultLimits);
        changed++;
      }
      return changed;
    },
    async downgrade(deps) {
      let changed = 0;
      for (const user of await deps.identity.listUsers()) {
        if (!user.quota) continue;
        await deps.accounts.removeUserQuota(user.username);
        changed++;
      }
      return changed;
    },
  },
  {
    rev: '0002_token_claims',
    description: "each user's requested or active user token holds its (user, purpose) claim",
    async upgrade(deps) {
      let changed = 0;
      for (const token of await deps.identity.listTokens()) {
        if (token.purpose !== 'user' || token.status === 'revoked' || !token.username) continue;
        if (await deps.accounts.claimedToken(token.username, token.purpose)) continue;
        if (await deps.accounts.putClaim(token.username, token.purpose, token.id)) changed++;
      }
      return changed;
    },
    async downgrade(deps) {
      let changed = 0;
      for (const user of await deps.identity.listUsers()) {
        if (await deps.accounts.deleteClaim(user.username, 'user')) changed++;
      }
      return changed;
    },
  },
  freeSlotIndexMigration,
  listingIndexMigration,
];

export const NEWEST_REVISION = MIGRATIONS[MIGRATIONS.length - 1]!.rev;

function indexOf(rev: string): number {
  if (rev === BASE_REVISION) return -1;
  const i = MIGRATIONS.findIndex((m) => m.rev === rev);
  if (i < 0) throw ValidationError.field('revision', `unknown revision "${rev}" (known: ${[BASE_REVISION, ...MIGRATIONS.map((m) => m.rev)].join(', ')})`);
  return i;
}

export async function currentRevision(deps: Deps): Promise<string> {
  return (await deps.schema.current()) ?? BASE_REVISION;
}

export interface MigrationStep {
  rev: string;
  direction: 'upgrade' | 'downgrade';
  items: number;
}

/** Applies the upgrades after the current revision up to `target` (default: the newest), in order. */
export async function upgradeSchema(deps: Deps, actor: string, target: string = NEWEST_REVISION): Promise<MigrationStep[]> {
  const to = indexOf(target);
  const steps: MigrationStep[] = [];
  let from = indexOf(await currentRevision(deps));
  if (to < from) throw new ConflictError('Cannot upgrade', `the schema is at ${MIGRATIONS[from]!.rev}, after ${target}: downgrade instead`);
  while (from < to) {
    const m = MIGRATIONS[from + 1]!;
    const items = await m.upgrade(deps);
    await advance(deps, actor, from, from + 1, 'db.upgrade');
    steps.push({ rev: m.rev, direction: 'upgrade', items });
    from++;
  }
  return steps;
}

/** Reverts the current revision and those after `target` (default: one step back), newest first. */
export async function downgradeSchema(deps: Deps, actor: string, target?: string): Promise<MigrationStep[]> {
  let from = indexOf(await currentRevision(deps));
  const to = target === undefined ? from - 1 : indexOf(target);
  if (to > from) throw new ConflictError('Cannot downgrade', `the schema is at ${from < 0 ? BASE_REVISION : MIGRATIONS[from]!.rev}, before ${target}: upgrade instead`);
  const steps: MigrationStep[] = [];
  while (from > to) {
    const m = MIGRATIONS[from]!;
    const items = await m.downgrade(deps);
    await advance(deps, actor, from, from - 1, 'db.downgrade');
    steps.push({ rev: m.rev, direction: 'downgrade', items });
    from--;
  }
  return steps;
}

/** `db init` on a fresh table: its items already have the newest shapes. */
export async function stampNewest(deps: Deps, actor: string): Promise<void> {
  if ((await deps.schema.current()) !== undefined) return;
  await deps.schema.move(undefined, NEWEST_REVISION, { at: deps.clock.now().toISOString(), actor, action: 'stamp', from: BASE_REVISION, to: NEWEST_REVISION });
  await recordAudit(deps, actor, 'db.stamp', { revision: NEWEST_REVISION });
}

async function advance(deps: Deps, actor: string, fromIndex: number, toIndex: number, action: 'db.upgrade' | 'db.downgrade'): Promise<void> {
  const from = fromIndex < 0 ? BASE_REVISION : MIGRATIONS[fromIndex]!.rev;
  const to = toIndex < 0 ? BASE_REVISION : MIGRATIONS[toIndex]!.rev;
  const stored = await deps.schema.current();
  await deps.schema.move(stored, to, { at: deps.clock.now().toISOString(), actor, action: action === 'db.upgrade' ? 'upgrade' : 'downgrade', from, to });
  await recordAudit(deps, actor, action, { from, to });
}

export async function schemaHistory(deps: Deps) {
  return deps.schema.history();
}
