import 'aws-cdk-lib/testhelpers/jest-autoclean';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import type { FunctionSpec } from '../../shared/manifest';
import { CONVEYOR_MANIFEST } from '../../infra/manifest';
import { actions, logicalId, resources, statementsOfRole, synth } from './helpers';

describe('SchedulesStack', () => {
  it('has one schedule per scheduled function of the real manifest', () => {
    const scheduled = CONVEYOR_MANIFEST.functions.filter((f) => f.schedule);
    const s = synth();
    expect(scheduled.length).toBeGreaterThan(0);
    expect(Object.keys(resources(s.schedules!, 'AWS::Scheduler::Schedule'))).toHaveLength(scheduled.length);
  });

  it('is not created when no function has a schedule (manifest variant)', () => {
    const functions = CONVEYOR_MANIFEST.functions.map(({ schedule: _schedule, ...f }) => f);
    expect(synth({ manifest: { ...CONVEYOR_MANIFEST, functions } }).stacks.schedules).toBeUndefined();
  });

  describe('the real manifest', () => {
    const s = synth();
    const template = s.schedules!;
    const schedules = () => Object.values(resources(template, 'AWS::Scheduler::Schedule')).map((r) => r.Properties!);
    const fnId = (name: string) => logicalId(s.stacks.api.functions[name]!.fn);
    const targeting = (name: string) => schedules().filter((p) => JSON.stringify(p.Target.Arn).includes(fnId(name)));

    it.each([
      ['scheduler', 'scheduler-tick'],
      ['watchdog', 'watchdog'],
      ['recurring-release', 'recurring-release'],
    ])('runs %s every minute (schedule %s)', (name, scheduleId) => {
      const found = targeting(name);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED', FlexibleTimeWindow: { Mode: 'OFF' } });
      expect(JSON.parse(found[0]!.Target.Input)).toMatchObject({ scheduleId });
      // A tick older than the period is superseded by the next one.
      expect(found[0]!.Target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 2 });
    });

    it('runs the quota recompute (accountant) hourly', () => {
      const found = targeting('accountant');
      expect(found).toHaveLength(1);
      expect(found[0]!.ScheduleExpression).toMatch(/^rate\((60 minutes|1 hour)\)$/);
      expect(JSON.parse(found[0]!.Target.Input)).toMatchObject({ scheduleId: 'quota-recompute' });
    });

    it('runs the expiry pass every 15 minutes (schedule expiry)', () => {
      const found = targeting('expiry');
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ ScheduleExpression: 'rate(15 minutes)', State: 'ENABLED' });
      expect(JSON.parse(found[0]!.Target.Input)).toMatchObject({ scheduleId: 'expiry' });
    });

    it('schedules nothing else', () => {
      for (const other of ['identity-api', 'artifacts-api', 'file-verifier', 'work-requests-api', 'workers-api', 'heartbeat-applier', 'server-task-runner', 'recurring-jobs-api']) {
        expect(targeting(other)).toHaveLength(0);
      }
    });

    it("lets each schedule's role invoke only its own function", () => {
      for (const role of Object.keys(resources(template, 'AWS::IAM::Role'))) {
        const statements = statementsOfRole(template, role);
        expect([...new Set(actions(statements))]).toEqual(['lambda:InvokeFunction']);
        const scheduledNames = CONVEYOR_MANIFEST.functions.filter((f) => f.schedule).map((f) => f.name);
        const targets = scheduledNames.filter((n) => JSON.stringify(statements).includes(fnId(n)));
        expect(targets).toHaveLength(1);
      }
    });
  });

  describe('with a scheduled function (manifest variant)', () => {
    const sweeper: FunctionSpec = {
      name: 'sweeper',
      entry: CONVEYOR_MANIFEST.functions[0]!.entry,
      description: 'periodic sweep',
      timeoutSeconds: 60,
      memoryMb: 256,
      schedule: { id: 'expire-leases', rateMinutes: 5 },
      uses: { tables: { main: 'readwrite' } },
    };
    const manifest = { ...CONVEYOR_MANIFEST, functions: [...CONVEYOR_MANIFEST.functions, sweeper] };
    const s = synth({ manifest });
    const template = s.schedules!;
    const fnId = logicalId(s.stacks.api.functions.sweeper!.fn);

    const sweeperSchedules = () =>
      Object.values(resources(template, 'AWS::Scheduler::Schedule')).filter((r) => JSON.stringify(r.Properties!.Target.Arn).includes(fnId));

    it('creates one EventBridge schedule at the declared rate, invoking that function', () => {
      const schedules = sweeperSchedules();
      expect(schedules).toHaveLength(1);
      const p = schedules[0]!.Properties!;
      expect(p.ScheduleExpression).toBe('rate(5 minutes)');
      expect(p.State).toBe('ENABLED');
      expect(JSON.stringify(p.Target.Arn)).toContain(fnId);
      expect(JSON.parse(p.Target.Input)).toMatchObject({ scheduleId: 'expire-leases' });
    });

    it('gives the scheduler role only lambda:InvokeFunction on that function', () => {
      const schedule = s.stacks.schedules!.schedules['expire-leases']!;
      expect(schedule).toBeDefined();
      const roleIds = Object.keys(resources(template, 'AWS::IAM::Role')).filter((id) => JSON.stringify(statementsOfRole(template, id)).includes(fnId));
      expect(roleIds).toHaveLength(1);
      const statements = statementsOfRole(template, roleIds[0]!);
      expect([...new Set(actions(statements))]).toEqual(['lambda:InvokeFunction']);
      expect(JSON.stringify(statements)).toContain(fnId);
      for (const other of ['identity-api', 'artifacts-api', 'file-verifier']) {
        expect(JSON.stringify(statements)).not.toContain(logicalId(s.stacks.api.functions[other]!.fn));
      }
      const role = resources(template)[roleIds[0]!]!;
      expect(JSON.stringify(role.Properties!.AssumeRolePolicyDocument)).toContain('scheduler.amazonaws.com');
      expect(logicalId(s.stacks.api.functions.sweeper!.fn.role!.node.defaultChild as CfnRole)).toBeTruthy();
    });

    it('leaves non-scheduled functions without schedules', () => {
      const targets = JSON.stringify(Object.values(resources(template, 'AWS::Scheduler::Schedule')).map((r) => r.Properties!.Target));
      expect(targets).not.toContain(logicalId(s.stacks.api.functions['identity-api']!.fn));
    });
  });

  it('refuses a schedule faster than once a minute', () => {
    const bad: FunctionSpec = { ...CONVEYOR_MANIFEST.functions[0]!, name: 'bad', routes: [], schedule: { id: 'x', rateMinutes: 0.5 } };
    expect(() => synth({ manifest: { ...CONVEYOR_MANIFEST, functions: [...CONVEYOR_MANIFEST.functions, bad] } })).toThrow(/rateMinutes/);
  });
});
