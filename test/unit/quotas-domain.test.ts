/** REANA behaviours 27–32 and 35 (launchpad_reana.md §C) on Conveyor's domain rules. */
import type { AuditAction } from '../../shared/domain/audit-actions';
import { auditAction } from '../../shared/domain/audit-actions';
import { ValidationError } from '../../shared/domain/errors';
import {
  applyDelta,
  describeResourceQuota,
  enforceQuota,
  exceededResources,
  humanBytes,
  humanMilliseconds,
  isExceeded,
  QuotaExceededError,
  quotaHealth,
  readQuotaSettings,
  shouldSkipQuotaUpdate,
} from '../../shared/domain/quotas';
import { balancedPriority, complexityPriority, overloadPriority, pythonRound, readSchedulingPolicy } from '../../shared/domain/scheduling-policy';
import { recordAudit } from '../../shared/app/audit';
import { createMemoryDeps } from '../../shared/adapters/memory';

describe('behaviour 27: overload priority', () => {
  it('MAX 10 with 2 active gives 0.82; 11 active gives 0.1; MAX 30 with 15 active gives 0.55', () => {
    expect(overloadPriority(2, 10)).toBe(0.82);
    expect(overloadPriority(11, 10)).toBe(0.1);
    expect(overloadPriority(10, 10)).toBe(0.1);
    expect(overloadPriority(15, 30)).toBe(0.55);
    expect(overloadPriority(0, 30)).toBe(1);
  });
});

describe('behaviour 28: complexity priority with the float quirks', () => {
  it('[(2,8)] in 400 → 96; [(1,401)] → 0; [] → 0; [(3,5),(1,5)] in 100 → 80', () => {
    expect(complexityPriority([[2, 8]], 400)).toBe(96);
    expect(complexityPriority([[1, 401]], 400)).toBe(0);
    expect(complexityPriority([], 400)).toBe(0);
    expect(complexityPriority([[3, 5], [1, 5]], 100)).toBe(80);
    expect(complexityPriority([[1, 1]], 0)).toBe(0);
  });
  it('truncates after the float multiply: 1 − 0.71 gives 28, not 29', () => {
    expect(complexityPriority([[71, 1]], 100)).toBe(28);
  });
  it('rounds like Python: exact binary halves to even, others by their exact value', () => {
    expect(pythonRound(2.5)).toBe(2);
    expect(pythonRound(3.5)).toBe(4);
    expect(pythonRound(0.125, 2)).toBe(0.12);
    expect(pythonRound(0.375, 2)).toBe(0.38);
    expect(pythonRound(2.675, 2)).toBe(2.67);
    expect(balancedPriority(2, [[2, 8]], 400, 10)).toBe(79); // round(0.82 × 96 = 78.72)
    expect(balancedPriority(0, [[1, 50]], 100, 10)).toBe(50);
  });
  it('the policy is fifo unless configured, and only fifo or balanced', () => {
    expect(readSchedulingPolicy({}).policy).toBe('fifo');
    expect(readSchedulingPolicy({ CONVEYOR_WORKFLOW_SCHEDULING_POLICY: 'balanced' }).policy).toBe('balanced');
    expect(() => readSchedulingPolicy({ CONVEYOR_WORKFLOW_SCHEDULING_POLICY: 'random' })).toThrow(/fifo, balanced/);
  });
});

describe('behaviour 29: health', () => {
  it('limit 100: 79 healthy, 80 warning, 100 critical', () => {
    expect(quotaHealth({ limit: 100, used: 79 })).toBe('healthy');
    expect(quotaHealth({ limit: 100, used: 80 })).toBe('warning');
    expect(quotaHealth({ limit: 100, used: 100 })).toBe('critical');
    expect(quotaHealth({ limit: 100, used: 150 })).toBe('critical');
  });
  it('limit 0: no health and no limit key, and never exceeded', () => {
    expect(quotaHealth({ limit: 0, used: 10 ** 12 })).toBeUndefined();
    const described = describeResourceQuota('disk', { limit: 0, used: 1536 });
    expect(described).toEqual({ usage: { raw: 1536, human_readable: '1.5 KiB' } });
    expect(isExceeded({ limit: 0, used: 10 ** 12 })).toBe(false);
  });
});

describe('behaviour 30: used == limit is exceeded', () => {
  it('names the resource, usage, limit and what to do', () => {
    const quota = { cpu: { limit: 0, used: 5 }, disk: { limit: 1024, used: 1024 } };
    expect(exceededResources(quota)).toEqual(['disk']);
    let error: unknown;
    try {
      enforceQuota({ kind: 'user', username: 'alice' }, quota);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(QuotaExceededError);
    const e = error as QuotaExceededError;
    expect(e.kind).toBe('forbidden');
    expect(e.detail).toMatch(/user "alice" has used 1 KiB of its 1 KiB disk quota/);
    expect(e.detail).toMatch(/delete artifacts/);
    expect(e.extensions).toMatchObject({ resource: 'disk', usage: { raw: 1024 }, limit: { raw: 1024 } });
  });
});

describe('behaviour 32: a delta below zero is clamped', () => {
  it('100 − 150 gives 0 and says it was clamped', () => {
    expect(applyDelta(100, -150)).toEqual({ used: 0, clamped: true });
    expect(applyDelta(100, -50)).toEqual({ used: 50, clamped: false });
  });
});

describe('human-readable units (REANA)', () => {
  it('bytes are 1024-based with two decimals at most', () => {
    expect(humanBytes(0)).toBe('0 Bytes');
    expect(humanBytes(1023)).toBe('1023 Bytes');
    expect(humanBytes(1024)).toBe('1 KiB');
    expect(humanBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB');
    expect(humanBytes(900 * 1024)).toBe('900 KiB');
    expect(humanBytes(1234567)).toBe('1.18 MiB');
  });
  it('milliseconds drop zero parts, and nothing is "0s"', () => {
    expect(humanMilliseconds(0)).toBe('0s');
    expect(humanMilliseconds(999)).toBe('0s');
    expect(humanMilliseconds(3_723_000)).toBe('1h 2m 3s');
    expect(humanMilliseconds(3_600_000)).toBe('1h');
    expect(humanMilliseconds(86_400_000 + 5_000)).toBe('1d 5s');
  });
});

describe('quota settings (REANA update policies)', () => {
  it('defaults account both resources at termination and periodically, with unlimited defaults', () => {
    expect(readQuotaSettings({})).toEqual({ defaultLimits: { cpu: 0, disk: 0 }, terminationPolicy: ['cpu', 'disk'], periodic: true });
  });
  it('reads the limits and policies, and refuses unknown values', () => {
    const s = readQuotaSettings({
      CONVEYOR_DEFAULT_QUOTA_DISK_LIMIT: '1048576',
      CONVEYOR_QUOTA_TERMINATION_UPDATE_POLICY: 'cpu',
      CONVEYOR_QUOTA_PERIODIC_UPDATE: 'false',
    });
    expect(s).toEqual({ defaultLimits: { cpu: 0, disk: 1048576 }, terminationPolicy: ['cpu'], periodic: false });
    expect(shouldSkipQuotaUpdate(s, 'disk')).toBe(true);
    expect(shouldSkipQuotaUpdate(s, 'cpu')).toBe(false);
    expect(readQuotaSettings({ CONVEYOR_QUOTA_TERMINATION_UPDATE_POLICY: 'none' }).terminationPolicy).toEqual([]);
    expect(() => readQuotaSettings({ CONVEYOR_QUOTA_TERMINATION_UPDATE_POLICY: 'gpu' })).toThrow(/unknown resource "gpu"/);
    expect(() => readQuotaSettings({ CONVEYOR_DEFAULT_QUOTA_CPU_LIMIT: '-1' })).toThrow(/CONVEYOR_DEFAULT_QUOTA_CPU_LIMIT/);
  });
});

describe('behaviour 35: the audit log refuses unknown actions', () => {
  it('log_action("delete_database") raises; "request_token" is stored', async () => {
    expect(() => auditAction('delete_database')).toThrow(ValidationError);
    const deps = createMemoryDeps();
    // The type refuses it at compile time too; a name that arrives at run time is refused there.
    await expect(recordAudit(deps, 'test', 'delete_database' as AuditAction, {})).rejects.toThrow(/unknown audit action "delete_database"/);
    expect(deps.audit.entries).toHaveLength(0);
    await recordAudit(deps, 'test', 'request_token', { token: 't1' });
    expect(deps.audit.entries.map((e) => e.action)).toEqual(['request_token']);
  });
});
