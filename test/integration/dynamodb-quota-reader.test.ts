/**
 * The QuotaReader port on DynamoDB Local: quota enforcement reads a workspace's and a user's limits
 * through it alone (as work-requests-api, wired without the accounts repository, does), and it reads
 * what the accounts repository wrote.
 */
import { createAwsDeps } from '../../shared/adapters/aws';
import { createUser, createWorkspace } from '../../shared/app/admin';
import { authenticate } from '../../shared/app/auth';
import { initDatabase } from '../../shared/app/bootstrap';
import { grantToken } from '../../shared/app/tokens';
import { enforceQuotas, setQuotaLimit } from '../../shared/app/quotas';
import { QuotaExceededError } from '../../shared/domain/quotas';
import type { Deps } from '../../shared/ports';

jest.setTimeout(120_000);

const suffix = Math.random().toString(36).slice(2, 8);
let full: Deps;
/** The same deps with the accounts repository taken away: any use of it throws. */
let quotasOnly: Deps;

beforeAll(async () => {
  full = createAwsDeps(process.env);
  await initDatabase(full);
  const noAccounts = new Proxy({} as Deps['accounts'], {
    get: (_t, prop) => {
      if (prop === 'then') return undefined;
      throw new Error(`accounts.${String(prop)} used where only the quota reader is wired`);
    },
  });
  quotasOnly = { ...full, accounts: noAccounts };
});

it('reads the limits and usage the accounts repository wrote', async () => {
  const workspace = `qr-${suffix}`;
  await createWorkspace(full, 'test', { scope: 'debusine', name: workspace });
  const account = { kind: 'workspace' as const, scope: 'debusine', workspace };
  expect(await full.quotas.getQuota(account)).toEqual({ cpu: { limit: 0, used: 0 }, disk: { limit: 0, used: 0 } });
  await setQuotaLimit(full, 'test', account, 'disk', 1000);
  expect(await full.quotas.getQuota(account)).toEqual(await full.accounts.getQuota(account));
  expect((await full.quotas.getQuota(account)).disk.limit).toBe(1000);
});

it('enforces a workspace limit with only the quota reader', async () => {
  const workspace = `qe-${suffix}`;
  const username = `qe-${suffix}`;
  await createWorkspace(full, 'test', { scope: 'debusine', name: workspace });
  await createUser(full, 'test', { username });
  const caller = await authenticate(full, (await grantToken(full, 'test', { username })).key);
  await setQuotaLimit(full, 'test', { kind: 'workspace', scope: 'debusine', workspace }, 'disk', 500);
  await expect(enforceQuotas(quotasOnly, caller, 'debusine', workspace, { disk: 500 })).resolves.toBeUndefined();
  await expect(enforceQuotas(quotasOnly, caller, 'debusine', workspace, { disk: 501 })).rejects.toThrow(QuotaExceededError);
});
