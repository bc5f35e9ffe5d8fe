import 'aws-sdk-client-mock-jest';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsJobQueues, parseJobMessage } from '../../shared/adapters/sqs/job-queues';

const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const url = 'https://sqs.eu-west-1.amazonaws.com/123456789012/conveyor-file-verification';

beforeEach(() => sqsMock.reset());

describe('SqsJobQueues', () => {
  it('sends a typed JSON file-verification message to its queue', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    await new SqsJobQueues(sqs, { fileVerification: url }).enqueueFileVerification({ artifactId: 42, path: 'pool/ü/a b.deb' });
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    const input = sqsMock.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input.QueueUrl).toBe(url);
    expect(JSON.parse(input.MessageBody!)).toEqual({ type: 'file-verification', artifactId: 42, path: 'pool/ü/a b.deb' });
    expect(input.MessageGroupId).toBeUndefined();
    expect(input.MessageDeduplicationId).toBeUndefined();
  });

  it('adds a message group and a content-based deduplication id on a FIFO queue', async () => {
    sqsMock.on(SendMessageCommand).resolves({});
    const queues = new SqsJobQueues(sqs, { fileVerification: `${url}.fifo` });
    await queues.enqueueFileVerification({ artifactId: 7, path: 'a' });
    await queues.enqueueFileVerification({ artifactId: 7, path: 'a' });
    await queues.enqueueFileVerification({ artifactId: 7, path: 'b' });
    const inputs = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(inputs.map((i) => i.MessageGroupId)).toEqual(['artifact-7', 'artifact-7', 'artifact-7']);
    expect(inputs[0]!.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(inputs[1]!.MessageDeduplicationId).toBe(inputs[0]!.MessageDeduplicationId);
    expect(inputs[2]!.MessageDeduplicationId).not.toBe(inputs[0]!.MessageDeduplicationId);
  });

  it('propagates send failures', async () => {
    sqsMock.on(SendMessageCommand).rejects(new Error('throttled'));
    await expect(new SqsJobQueues(sqs, { fileVerification: url }).enqueueFileVerification({ artifactId: 1, path: 'a' })).rejects.toThrow('throttled');
  });

  it('refuses an empty queue URL', () => {
    expect(() => new SqsJobQueues(sqs, { fileVerification: '' })).toThrow(/queue URL/);
  });
});

describe('parseJobMessage', () => {
  it('reads back what was sent', () => {
    expect(parseJobMessage('{"type":"file-verification","artifactId":3,"path":"x/y"}')).toEqual({ type: 'file-verification', artifactId: 3, path: 'x/y' });
  });
  it.each(['{}', '{"type":"file-verification","artifactId":"3","path":"x"}', '{"type":"other","artifactId":3,"path":"x"}', 'null', '[]'])(
    'rejects %s',
    (body) => {
      expect(() => parseJobMessage(body)).toThrow(/not a Conveyor job message/);
    },
  );
});
