import 'aws-cdk-lib/testhelpers/jest-autoclean';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import type { FunctionSpec } from '../../shared/manifest';
import { CONVEYOR_MANIFEST } from '../../infra/manifest';
import { actions, logicalId, resources, statementsOfRole, synth } from './helpers';

describe('SchedulesStack', () => {
  it('is not created while no function has a schedule (the real manifest today)', () => {
    const scheduled = CONVEYOR_MANIFEST.functions.filter((f) => f.schedule);
    const s = synth();
    if (scheduled.length === 0) expect(s.stacks.schedules).toBeUndefined();
    else expect(Object.keys(resources(s.schedules!, 'AWS::Scheduler::Schedule'))).toHaveLength(scheduled.length);
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

    it('creates one EventBridge schedule at the declared rate, invoking that function', () => {
      const schedules = Object.values(resources(template, 'AWS::Scheduler::Schedule'));
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
      const roleIds = Object.keys(resources(template, 'AWS::IAM::Role'));
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
