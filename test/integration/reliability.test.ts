/**
 * The reliability report (reliability/, `npm run reliability`) at a reduced size, so that every
 * part is exercised by `npm test` and its zeros are asserted. The full size writes RELIABILITY.md.
 * Integration tier: the scheduling sample runs on DynamoDB Local too.
 */
import { createAwsDeps } from '../../shared/adapters/aws';
import { initDatabase } from '../../shared/app/bootstrap';
import { runBadInputs } from '../../reliability/bad-inputs';
import { runPermissionMatrix, allowed } from '../../reliability/permissions';
import { runReplays } from '../../reliability/replays';
import { QUICK } from '../../reliability/run';
import { runSchedulingCases, runSchedulingOn } from '../../reliability/scheduling';

jest.setTimeout(120_000);

it('(a) bad inputs across every route: no 5xx, and no refused request changes anything', async () => {
  const r = await runBadInputs(QUICK.badInputs);
  expect(r.serverErrors).toEqual([]);
  expect(r.changesAfterRefusal).toEqual([]);
  expect(r.routesHit).toBeGreaterThan(r.routes * 0.9);
  // Most cases are refused: the inputs are bad indeed.
  expect(r.cases - r.accepted).toBeGreaterThan(r.cases / 2);
});

it('(b) concurrent scheduling, memory fakes with fast-check interleavings: no double assignment', async () => {
  const r = await runSchedulingCases(QUICK.scheduling);
  expect(r.violations).toEqual([]);
  expect(r.assignments).toBeGreaterThan(0);
});

it('(b) concurrent scheduling on DynamoDB Local: no double assignment', async () => {
  const deps = createAwsDeps(process.env);
  await initDatabase(deps);
  const r = await runSchedulingOn(deps, QUICK.schedulingDynamo);
  expect(r.violations).toEqual([]);
});

it('(c) replayed and reordered messages on every queue consumer: the same stored state as in order', async () => {
  const r = await runReplays(QUICK.replays);
  expect(r.differences).toEqual([]);
  // Every consumer got replays, else the run proves nothing about it.
  for (const consumer of Object.keys(r.replayed) as (keyof typeof r.replayed)[]) expect(r.replayed[consumer]).toBeGreaterThan(0);
});

it('(e) the permission matrix (every third route): no leaks', async () => {
  const r = await runPermissionMatrix(QUICK.permissionsEvery);
  expect(r.leaks).toEqual([]);
  expect(r.serverErrors).toEqual([]);
  // The well-formed requests reach past the checks for most allowed cases (else the matrix proves little).
  expect(r.allowedSucceeded).toBeGreaterThan(r.allowedCases * 0.8);
});

it('(e) the rules refuse what they should: a stranger never writes, only admins administer', () => {
  expect(allowed('ws:viewer', 'stranger', 'priv')).toBe(false);
  expect(allowed('ws:viewer', 'anonymous', 'pub')).toBe(true);
  expect(allowed('ws:contributor', 'viewer', 'pub')).toBe(false);
  expect(allowed('ws:owner', 'admin', 'priv')).toBe(true);
  expect(allowed('admin', 'owner', 'priv')).toBe(false);
  expect(allowed('worker', 'admin', 'priv')).toBe(false);
  expect(allowed('ws:uploader', 'worker', 'pub')).toBe(false);
});
