import { DEFAULT_FILE_STORE, DEFAULT_SCOPE, DEFAULT_WORKSPACE, tokenUnusableReason } from '../domain/tenancy';
import type { Deps } from '../ports';
import { createToken, createUser } from './admin';
import { hashTokenKey } from './auth';
import { ignoreConflict } from './concurrency';

export const ADMIN_USERNAME = 'admin';
const SYSTEM_ACTOR = 'system:bootstrap';

/** Creates the default scope, the `System` workspace and the `admin` user; safe to run again. */
export async function initDatabase(deps: Deps): Promise<{ created: string[] }> {
  const created: string[] = [];
  const now = deps.clock.now().toISOString();
  if (await deps.identity.createScopeIfAbsent({ name: DEFAULT_SCOPE, label: 'Debusine', createdAt: now })) {
    created.push(`scope ${DEFAULT_SCOPE}`);
  }
  if (!(await deps.identity.getWorkspace(DEFAULT_SCOPE, DEFAULT_WORKSPACE))) {
    try {
      await deps.identity.createWorkspace({
        scope: DEFAULT_SCOPE,
        name: DEFAULT_WORKSPACE,
        public: false,
        defaultExpirationDelay: null,
        defaultFileStore: DEFAULT_FILE_STORE,
        otherFileStores: [],
        createdAt: now,
        version: 1,
      });
      created.push(`workspace ${DEFAULT_WORKSPACE}`);
    } catch (err) {
      ignoreConflict(err); // created concurrently: fine
    }
  }
  if (!(await deps.identity.getUser(ADMIN_USERNAME))) {
    try {
      await createUser(deps, SYSTEM_ACTOR, { username: ADMIN_USERNAME, isAdmin: true });
      created.push(`user ${ADMIN_USERNAME}`);
    } catch (err) {
      ignoreConflict(err);
    }
  }
  return { created };
}

/** Keeps the admin token the local stack handed out before, or makes a new one. */
export async function ensureAdminToken(deps: Deps, previousKey?: string): Promise<string> {
  if (previousKey) {
    const token = await deps.identity.getTokenByHash(hashTokenKey(previousKey));
    if (token && token.username === ADMIN_USERNAME && !tokenUnusableReason(token, deps.clock.now())) return previousKey;
  }
  const { key } = await createToken(deps, SYSTEM_ACTOR, {
    username: ADMIN_USERNAME,
    purpose: 'api',
    comment: 'local stack admin token',
    enabled: true,
  });
  return key;
}
