/**
 * SqsJobQueues against local-aws-sqs (started by the integration global setup, which sets
 * AWS_ENDPOINT_URL_SQS). The test sends to a queue of its own so that it never receives (and so never
 * bumps the receive count of) messages meant for other tests.
 */
import { CreateQueueCommand, DeleteMessageCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { SqsJobQueues, parseJobMessage } from '../../shared/adapters/sqs/job-queues';

jest.setTimeout(30_000);

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: the integration global setup should set it`);
  return v;
}

const sqs = new SQSClient({ region: env('AWS_REGION'), endpoint: env('AWS_ENDPOINT_URL_SQS') });
let queueUrl: string;

beforeAll(async () => {
  const out = await sqs.send(new CreateQueueCommand({ QueueName: `it-jobs-${randomUUID()}` }));
  queueUrl = out.QueueUrl!;
});

afterAll(async () => {
  if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  sqs.destroy();
});

it('sends a file-verification job that a consumer receives as JSON', async () => {
  const path = 'pool/main/h/hello/hello_1.0 ü.deb';
  await new SqsJobQueues(sqs, { fileVerification: queueUrl }).enqueueFileVerification({ artifactId: 1234, path });

  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 5 }));
  expect(out.Messages).toHaveLength(1);
  const message = out.Messages![0]!;
  expect(JSON.parse(message.Body!)).toEqual({ type: 'file-verification', artifactId: 1234, path });
  expect(parseJobMessage(message.Body!)).toEqual({ type: 'file-verification', artifactId: 1234, path });
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
});

it('finds the provisioned file-verification queue', async () => {
  // Nothing is sent there: the verifier's own tests consume that queue.
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: env('CONVEYOR_QUEUE_FILE_VERIFICATION_URL'), AttributeNames: ['All'] }));
  expect(out.Attributes?.['QueueArn']).toMatch(/file-verification/);
});
