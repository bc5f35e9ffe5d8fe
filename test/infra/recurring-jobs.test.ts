/** The recurring-job functions as the manifest declares them and the CDK app deploys them. */
import 'aws-cdk-lib/testhelpers/jest-autoclean';
import { FUNCTIONS, routeTable } from '../../shared/manifest';
import { logicalId, resources, synth } from './helpers';

describe('recurring jobs in the manifest and the CDK app', () => {
  const s = synth();
  const byName = (name: string) => FUNCTIONS.find((f) => f.name === name)!;

  it('serves every recurring-job and machine route from recurring-jobs-api, and no other function does', () => {
    const routes = routeTable().filter((r) => r.routeKey.includes('/recurring-job/') || /\/worker\/\{name\}\/(online|offline|quiesce|events)\//.test(r.routeKey));
    expect(routes.map((r) => r.functionName)).toEqual(Array(13).fill('recurring-jobs-api'));
    expect(routes.map((r) => r.routeKey)).toEqual(expect.arrayContaining(['POST /api/1.0/recurring-job/{id}/try-again/', 'POST /api/1.0/worker/{name}/quiesce/']));
  });

  it('releases due runs every minute with a function that only uses the main table, the scheduler and orchestrator queues and SES', () => {
    const release = byName('recurring-release');
    expect(release.schedule).toEqual({ id: 'recurring-release', rateMinutes: 1 });
    expect(release.uses).toEqual({ tables: { main: 'readwrite' }, sendsTo: ['scheduler', 'orchestrator'], sendsEmail: true });
    const fn = s.stacks.api.functions['recurring-release']!.fn;
    const vars = resources(s.api)[logicalId(fn)]!.Properties!.Environment.Variables;
    expect(Object.keys(vars).sort()).toEqual(['CONVEYOR_QUEUE_ORCHESTRATOR_URL', 'CONVEYOR_QUEUE_SCHEDULER_URL', 'CONVEYOR_TABLE_MAIN', 'NODE_OPTIONS']);
  });

  it("consumes the recurring-runs queue the work-requests API sends its runs' moves to", () => {
    const queue = logicalId(s.stacks.messaging.queues['recurring-runs']!.queue);
    const release = logicalId(s.stacks.api.functions['recurring-release']!.fn);
    const mappings = Object.values(resources(s.api, 'AWS::Lambda::EventSourceMapping')).filter((m) => JSON.stringify(m.Properties!['FunctionName']).includes(release));
    expect(mappings).toHaveLength(1);
    expect(JSON.stringify(mappings[0]!.Properties!['EventSourceArn'])).toContain(queue);
    const api = s.stacks.api.functions['work-requests-api']!.fn;
    expect(JSON.stringify(resources(s.api)[logicalId(api)]!.Properties!.Environment.Variables['CONVEYOR_QUEUE_RECURRING_RUNS_URL'])).toContain(queue);
  });

  it('keeps the due index on the main table (gsi3), which the data stack declares', () => {
    const tables = Object.values(resources(s.data, 'AWS::DynamoDB::Table')).map((t) => t.Properties!);
    const indexes = tables.flatMap((t) => (t.GlobalSecondaryIndexes ?? []).map((i: { IndexName: string }) => i.IndexName));
    expect(indexes).toContain('gsi3');
  });
});
