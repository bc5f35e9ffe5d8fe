/** The accountant function: batches from the accounting queue, malformed messages dropped, partial failures reported; the schedule runs the recompute. */
import type { SQSEvent } from 'aws-lambda';
import { accountantHandler } from '../../functions/accountant';
import { artifactEvent } from '../../shared/app/accounting';
import { createWorld } from '../support/world';
import { fileOf, storeArtifact } from '../support/accounting';
import { logger } from '../../shared/observability/logger';

const sqsEvent = (bodies: string[]): SQSEvent => ({ Records: bodies.map((body, i) => ({ messageId: `m${i}`, body })) }) as unknown as SQSEvent;

describe('accountant', () => {
  beforeEach(() => jest.spyOn(logger, 'error').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('applies a batch once per source, drops malformed messages', async () => {
    const w = await createWorld();
    const a = await storeArtifact(w.deps, 1, 'uploader', [fileOf(1, 100)]);
    const body = JSON.stringify({ type: 'accounting', events: [artifactEvent(a)] });
    const result = await accountantHandler(() => w.deps)(sqsEvent([body, body, '{"type":"accounting","events":[]}', 'nope']));
    expect(result).toEqual({ batchItemFailures: [] });
    expect((await w.deps.accounts.getQuota({ kind: 'user', username: 'uploader' })).disk.used).toBe(100);
  });

  it('reports only the messages that fail', async () => {
    const w = await createWorld();
    const a = await storeArtifact(w.deps, 1, 'uploader', [fileOf(1, 100)]);
    const good = JSON.stringify({ type: 'accounting', events: [artifactEvent(a)] });
    const b = await storeArtifact(w.deps, 2, 'uploader', [fileOf(2, 50)]);
    const bad = JSON.stringify({ type: 'accounting', events: [artifactEvent(b)] });
    const apply = w.deps.accounts.applyAccounting.bind(w.deps.accounts);
    jest.spyOn(w.deps.accounts, 'applyAccounting').mockImplementation(async (change) => {
      if (change.source.id === 2) throw new Error('DynamoDB is down for this one');
      return apply(change);
    });
    const result = await accountantHandler(() => w.deps)(sqsEvent([good, bad]));
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect((await w.deps.accounts.getQuota({ kind: 'user', username: 'uploader' })).disk.used).toBe(100);
  });

  it('the schedule runs the recompute, unless the periodic policy is off', async () => {
    const w = await createWorld();
    await storeArtifact(w.deps, 1, 'uploader', [fileOf(1, 100)]);
    w.deps.quotaSettings = { defaultLimits: { cpu: 0, disk: 0 }, terminationPolicy: [], periodic: false };
    await accountantHandler(() => w.deps)({ scheduleId: 'quota-recompute' });
    expect((await w.deps.accounts.getQuota({ kind: 'user', username: 'uploader' })).disk.used).toBe(0);
    w.deps.quotaSettings = { defaultLimits: { cpu: 0, disk: 0 }, terminationPolicy: [], periodic: true };
    await accountantHandler(() => w.deps)({ scheduleId: 'quota-recompute' });
    expect((await w.deps.accounts.getQuota({ kind: 'user', username: 'uploader' })).disk.used).toBe(100);
  });
});
