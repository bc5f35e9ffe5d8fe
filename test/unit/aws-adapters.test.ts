/** Per-function wiring (shared/adapters/aws-adapters.ts): only the wired ports are built. */
import { awsDeps, identity, recurringJobs, workRequests } from '../../shared/adapters/aws-adapters';
import { DynamoIdentityRepository } from '../../shared/adapters/dynamodb/identity-repository';
import { DynamoRecurringJobRepository } from '../../shared/adapters/dynamodb/recurring-job-repository';
import { DynamoWorkRequestRepository } from '../../shared/adapters/dynamodb/work-request-repository';
import { TABLES } from '../../shared/manifest';

const env = { [TABLES.main.envVar]: 'main', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' };

describe('awsDeps', () => {
  it('builds the wired ports, once, on the first call', () => {
    const getDeps = awsDeps({ identity, workRequests, recurringJobs }, env);
    const deps = getDeps();
    expect(deps.identity).toBeInstanceOf(DynamoIdentityRepository);
    expect(deps.workRequests).toBeInstanceOf(DynamoWorkRequestRepository);
    expect(deps.recurringJobs).toBeInstanceOf(DynamoRecurringJobRepository);
    expect(getDeps()).toBe(deps);
  });

  it('reads the environment only when first called (a missing variable fails the invocation, not the module load)', () => {
    const getDeps = awsDeps({ identity }, {});
    expect(() => getDeps()).toThrow(`Missing environment variable ${TABLES.main.envVar}`);
  });

  it('a port the function is not wired with throws on use, naming the port', () => {
    const deps = awsDeps({ identity }, env)();
    expect(() => deps.artifacts.get(1)).toThrow('the artifacts port is not wired into this function');
    expect(() => deps.files.createMultipartUpload('x')).toThrow('the files port is not wired into this function');
    // Not thenable: returning it from an async function does not touch it.
    expect((deps.queues as unknown as { then?: unknown }).then).toBeUndefined();
  });

  it('leaves optional ports out when not wired, as a deployment without them would', () => {
    const deps = awsDeps({ identity }, { ...env, [TABLES.connections.envVar]: 'connections' })();
    expect(deps.sockets).toBeUndefined();
    expect(deps.recurringJobs).toBeUndefined();
  });

  it('keeps the configuration that is not an adapter', () => {
    const deps = awsDeps({}, env)();
    expect(deps.clock.now()).toBeInstanceOf(Date);
    expect(deps.ids.random()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(deps.quotaSettings).toBeDefined();
    expect(deps.schedulingPolicy).toBeDefined();
  });

});
