/**
 * Issue 7, item 3: the SQS consumers on Powertools' batch processing (shared/observability/sqs-batches.ts):
 * partial batch failures of the file verifier and the socket greeter, structured log lines instead
 * of console; and the usage accounting of a committed change handed back as a typed follow-up
 * failure (with its cause) instead of logged inside the use case.
 */
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { debusineRangeRecorderHandler } from '../../functions/debusine-range-recorder';
import { fileVerifierHandler } from '../../functions/file-verifier';
import { socketGreeterHandler } from '../../functions/socket-greeter';
import { artifactEvent, noteUsageChange, UsageNotQueuedError } from '../../shared/app/accounting';
import { deleteArtifact } from '../../shared/app/artifacts';
import type { FollowUpFailure } from '../../shared/app/follow-ups';
import type { Deps } from '../../shared/ports';
import { logger } from '../../shared/observability/logger';
import { eachRecord, wholeBatch } from '../../shared/observability/sqs-batches';
import { fileOf, storeArtifact } from '../support/accounting';
import { createWorld, httpClient } from '../support/world';

let errors: jest.SpyInstance;
let warnings: jest.SpyInstance;
beforeEach(() => {
  errors = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
  warnings = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
  jest.spyOn(logger, 'info').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

const record = (id: string, body: unknown): SQSRecord =>
  ({ messageId: id, receiptHandle: `rh-${id}`, body: typeof body === 'string' ? body : JSON.stringify(body), eventSource: 'aws:sqs' }) as unknown as SQSRecord;
const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });
const noDeps = () => ({}) as Deps;

describe('file-verifier handler', () => {
  it('reports only the message whose verification failed, drops malformed ones with a log', async () => {
    const seen: number[] = [];
    const verify = jest.fn(async (_deps: Deps, job: { artifactId: number }) => {
      seen.push(job.artifactId);
      if (job.artifactId === 2) throw new Error('S3 is down');
      return 'complete' as const;
    });
    const result = await fileVerifierHandler(noDeps, verify)(
      sqsEvent(record('a', { artifactId: 1, path: 'x' }), record('bad', { artifactId: 'one' }), record('b', { artifactId: 2, path: 'y' }), record('c', { artifactId: 3, path: 'z' })),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }] });
    expect(seen).toEqual([1, 2, 3]);
    const messages = errors.mock.calls.map((c) => String(c[0]));
    expect(messages).toContainEqual(expect.stringMatching(/dropping malformed file-verification message/));
    expect(messages).toContainEqual(expect.stringMatching(/file-verification failed/));
  });
});

describe('debusine-range-recorder handler', () => {
  const notification = (...keys: string[]) => ({ Records: keys.map((key) => ({ eventName: 'ObjectCreated:Put', s3: { object: { key } } })) });
  it('records each created range (keys form-decoded), reports only the failed message, drops S3 test events', async () => {
    const recorded: string[] = [];
    const recordRange = jest.fn(async (_deps: Deps, key: string) => {
      recorded.push(key);
      if (key.includes('broken')) throw new Error('S3 is down');
      return { kind: 'stored' } as never;
    });
    const result = await debusineRangeRecorderHandler(noDeps, recordRange)(
      sqsEvent(
        record('a', notification('tmp/debusine-ranges/1/a+b/0-9-10')),
        record('test', { Service: 'Amazon S3', Event: 's3:TestEvent' }),
        record('b', notification('tmp/debusine-ranges/2/broken/0-9-10')),
      ),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }] });
    expect(recorded).toEqual(['tmp/debusine-ranges/1/a b/0-9-10', 'tmp/debusine-ranges/2/broken/0-9-10']);
  });
});

describe('socket-greeter handler', () => {
  it('reports only the greeting that failed', async () => {
    const deps = { sockets: {} } as unknown as Deps;
    const greeted: string[] = [];
    const greet = async (_deps: unknown, connectionId: string) => {
      greeted.push(connectionId);
      if (connectionId === 'gone') throw new Error('410 Gone');
    };
    const result = await socketGreeterHandler(() => deps, greet)(sqsEvent(record('a', { connectionId: 'c1' }), record('b', { connectionId: 'gone' }), record('bad', { connectionId: '' })));
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }] });
    expect(greeted).toEqual(['c1', 'gone']);
  });

  it('fails the invocation when the connections table is not wired', async () => {
    await expect(socketGreeterHandler(noDeps)(sqsEvent(record('a', { connectionId: 'c1' })))).rejects.toThrow(/connections table/);
  });
});

describe('the batch shapes', () => {
  it('wholeBatch applies the well-formed messages in one call and, with applyOne, fails only the ones that fail alone', async () => {
    const applyAll = jest.fn(async (messages: number[]) => {
      if (messages.includes(13)) throw new Error('one of them is bad');
    });
    const applied: number[] = [];
    const applyOne = jest.fn(async (n: number) => {
      if (n === 13) throw new Error('unlucky');
      applied.push(n);
    });
    const consumer = wholeBatch({ what: 'number', parse: (body) => Number(JSON.parse(body)), applyAll, applyOne });
    const result = await consumer(sqsEvent(record('a', 1), record('b', 13), record('c', 2), record('bad', '{')));
    expect(applyAll).toHaveBeenCalledTimes(1);
    expect(applyAll).toHaveBeenCalledWith([1, 13, 2]);
    expect(applied).toEqual([1, 2]);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }] });
  });

  it('eachRecord answers a batch where everything failed instead of throwing (SQS redelivers each)', async () => {
    const consumer = eachRecord({
      what: 'thing',
      parse: (body) => body,
      handle: async () => {
        throw new Error('down');
      },
    });
    expect(await consumer(sqsEvent(record('a', 'x'), record('b', 'y')))).toEqual({ batchItemFailures: [{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }] });
  });
});

describe('usage accounting as a follow-up', () => {
  it('noteUsageChange throws UsageNotQueuedError carrying the cause, and logs nothing itself', async () => {
    const w = await createWorld();
    const a = await storeArtifact(w.deps, 1, 'uploader', [fileOf(1, 100)]);
    const cause = new Error('SQS throttled');
    jest.spyOn(w.deps.accountingQueue, 'enqueue').mockRejectedValue(cause);
    const error = await noteUsageChange(w.deps, artifactEvent(a)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageNotQueuedError);
    expect((error as UsageNotQueuedError).cause).toBe(cause);
    expect(errors).not.toHaveBeenCalled();
    expect(warnings).not.toHaveBeenCalled();
  });

  it('a delete whose accounting event is lost still succeeds; the failure is handed back, and the route logs it', async () => {
    const w = await createWorld();
    const a = await storeArtifact(w.deps, 1, 'uploader', [fileOf(1, 100)]);
    const b = await storeArtifact(w.deps, 2, 'uploader', [fileOf(2, 100)]);
    jest.spyOn(w.deps.accountingQueue, 'enqueue').mockRejectedValue(new Error('SQS throttled'));

    const failures: FollowUpFailure[] = [];
    await deleteArtifact(w.deps, await w.caller('uploader'), a.id, failures);
    expect(await w.deps.artifacts.get(a.id)).toBeUndefined();
    expect(failures).toEqual([{ step: 'usage accounting', artifactId: a.id, error: expect.any(UsageNotQueuedError) }]);

    const res = await httpClient(w.deps)('DELETE', `/api/1.0/artifact/${b.id}/`, { token: w.keys['uploader'] });
    expect(res.status).toBe(204);
    expect(warnings).toHaveBeenCalledWith('follow-up failed: usage accounting', expect.objectContaining({ artifact_id: b.id }));
  });
});
