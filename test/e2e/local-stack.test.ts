/**
 * `conveyor dev` as a user runs it: a subprocess serving the API on loopback, keeping its data
 * and admin token across restarts, and leaving nothing behind after SIGTERM.
 */
import { spawnSync } from 'node:child_process';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { REPO_ROOT, processesMentioning, startLocalStack, type LocalStack } from './stack';

jest.setTimeout(180_000);

function dynamoDb(stack: LocalStack): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: stack.env.AWS_ENDPOINT_URL_DYNAMODB,
    region: stack.env.AWS_REGION,
    credentials: { accessKeyId: stack.env.AWS_ACCESS_KEY_ID!, secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY! },
  });
}

describe('the local stack', () => {
  let stack: LocalStack | undefined;
  afterAll(async () => {
    await stack?.stop();
  });

  it('starts on loopback with an admin token and writes local.json', async () => {
    stack = await startLocalStack();
    expect(stack.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.adminToken).toMatch(/^[0-9a-f]{64}$/);
    expect(stack.env).toMatchObject({
      CONVEYOR_TABLE_MAIN: 'conveyor-main',
      CONVEYOR_BUCKET: 'conveyor-files',
      CONVEYOR_S3_VERIFY: 'readback',
      AWS_ENDPOINT_URL_DYNAMODB: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      CONVEYOR_QUEUE_FILE_VERIFICATION_URL: expect.stringContaining('conveyor-file-verification'),
    });
  });

  it('answers whoami for the admin token', async () => {
    const response = await fetch(`${stack!.url}/api/1.0/whoami/`, { headers: { Token: stack!.adminToken } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ user: 'admin' });
  });

  it('answers an unknown route with 404 problem+json', async () => {
    const response = await fetch(`${stack!.url}/api/1.0/no-such-thing/`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toEqual({ type: 'about:blank', title: 'Not Found', status: 404 });
  });

  it('refuses a second stack on the same data dir', () => {
    const second = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'dev', '--port', '0'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CONVEYOR_DATA_DIR: stack!.dataDir },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`(pid ${stack!.pid}) is using`);
  });

  it('keeps its data, admin token and endpoints across a restart', async () => {
    const before = stack!;
    const client = dynamoDb(before);
    const key = { pk: { S: 'e2e-restart' }, sk: { S: 'marker' } };
    try {
      await client.send(new PutItemCommand({ TableName: before.env.CONVEYOR_TABLE_MAIN, Item: { ...key, value: { S: 'kept' } } }));
    } finally {
      client.destroy();
    }

    stack = await before.restart();
    expect(stack.adminToken).toBe(before.adminToken);
    expect(stack.url).toBe(before.url);
    // The emulators come back on their previous ports when free, so workers holding the old
    // endpoints and queue URLs reconnect.
    expect(stack.env).toEqual(before.env);
    const after = dynamoDb(stack);
    try {
      const { Item } = await after.send(new GetItemCommand({ TableName: stack.env.CONVEYOR_TABLE_MAIN, Key: key }));
      expect(Item?.value).toEqual({ S: 'kept' });
    } finally {
      after.destroy();
    }
    const whoami = await fetch(`${stack.url}/api/1.0/whoami/`, { headers: { Token: stack.adminToken } });
    expect(whoami.status).toBe(200);
  });

  it('stops on SIGTERM with exit code 0 and leaves no process behind', async () => {
    const running = stack!;
    expect(processesMentioning(running.dataDir).some((p) => p.commandLine.includes('DynamoDBLocal'))).toBe(true);
    stack = undefined;
    await running.stop(); // asserts exit code 0 and no stray process itself
    expect(processesMentioning(running.dataDir)).toEqual([]);
    expect(() => process.kill(running.pid, 0)).toThrow();
  });
});
