/** DynamoAuditLog and DynamoSequences with a mocked document client. */
import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoAuditLog } from '../../shared/adapters/dynamodb/audit-log';
import { DynamoSequences } from '../../shared/adapters/dynamodb/sequences';
import { ValidationError } from '../../shared/domain/errors';

const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }));

beforeEach(() => ddb.reset());

const entry = { id: 'e1', at: '2026-11-22T10:00:00+01:00', actor: 'admin', action: 'user.create', details: { username: 'bob' } };
const cursorOf = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('DynamoAuditLog.append', () => {
  it('records the (UTC) day once per process, then the entry keyed by time and id, if absent', async () => {
    ddb.on(PutCommand).resolves({});
    const log = new DynamoAuditLog(doc, 'audit');
    await log.append(entry);
    await log.append({ ...entry, id: 'e2' });
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => [p.Item!.pk, p.Item!.sk])).toEqual([
      ['DAYS', '2026-11-22'],
      ['DAY#2026-11-22', '2026-11-22T09:00:00.000Z#e1'],
      ['DAY#2026-11-22', '2026-11-22T09:00:00.000Z#e2'],
    ]);
    expect(puts.every((p) => p.TableName === 'audit' && p.ConditionExpression === 'attribute_not_exists(#pk)')).toBe(true);
    expect(puts[1]!.Item).toEqual({
      pk: 'DAY#2026-11-22',
      sk: '2026-11-22T09:00:00.000Z#e1',
      entity: 'audit',
      id: 'e1',
      at: '2026-11-22T10:00:00+01:00',
      actor: 'admin',
      action: 'user.create',
      detailsJson: '{"username":"bob"}',
    });
  });

  it('a replayed entry (failed condition) is not an error', async () => {
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));
    await expect(new DynamoAuditLog(doc, 'audit').append(entry)).resolves.toBeUndefined();
  });

  it('refuses an entry whose time is not a timestamp', async () => {
    await expect(new DynamoAuditLog(doc, 'audit').append({ ...entry, at: 'yesterday' })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('DynamoAuditLog.list', () => {
  const item = (day: string, time: string, id: string) => ({
    pk: `DAY#${day}`,
    sk: `${day}T${time}.000Z#${id}`,
    id,
    at: `${day}T${time}.000Z`,
    actor: 'a',
    action: 'x',
    detailsJson: '{}',
  });

  it('walks the days newest first and stops with a cursor at the last entry taken', async () => {
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'DAYS' } }).resolves({ Items: [{ sk: '2026-11-22' }, { sk: '2025-01-01' }] });
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'DAY#2026-11-22' } }).resolves({ Items: [item('2026-11-22', '10:00:00', 'b')] });
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'DAY#2025-01-01' } }).resolves({ Items: [item('2025-01-01', '23:00:00', 'c'), item('2025-01-01', '01:00:00', 'd')] });
    const page = await new DynamoAuditLog(doc, 'audit').list({ limit: 2 });
    expect(page.items.map((e) => e.id)).toEqual(['b', 'c']);
    expect(JSON.parse(Buffer.from(page.next!, 'base64url').toString())).toEqual({ d: '2025-01-01', k: '2025-01-01T23:00:00.000Z#c' });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { ExpressionAttributeValues: { ':pk': 'DAYS' }, ScanIndexForward: false });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { ExpressionAttributeValues: { ':pk': 'DAY#2026-11-22' }, ScanIndexForward: false, Limit: 3 });
  });

  it('resumes from a cursor: that day after its key, then older days only', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await new DynamoAuditLog(doc, 'audit').list({ limit: 2, cursor: cursorOf({ d: '2025-01-01', k: '2025-01-01T23:00:00.000Z#c' }) });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      KeyConditionExpression: '#pk = :pk AND #sk <= :from',
      ExpressionAttributeValues: { ':pk': 'DAYS', ':from': '2025-01-01' },
    });
  });

  it('ends without a cursor when the last day is exhausted', async () => {
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'DAYS' } }).resolves({ Items: [{ sk: '2026-11-22' }] });
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'DAY#2026-11-22' } }).resolves({ Items: [item('2026-11-22', '10:00:00', 'b')] });
    expect(await new DynamoAuditLog(doc, 'audit').list({ limit: 1 })).toEqual({ items: [expect.objectContaining({ id: 'b' })] });
  });

  it.each([['!!'], [cursorOf({ d: '2025-01-01' })], [cursorOf({ d: 'yesterday', k: 'yesterday#x' })], [cursorOf({ d: '2025-01-01', k: '2024-01-01T00:00:00.000Z#x' })]])(
    'a malformed cursor %s is a ValidationError on `cursor`',
    async (cursor) => {
      const err = await new DynamoAuditLog(doc, 'audit').list({ limit: 2, cursor }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).fieldErrors).toHaveProperty('cursor');
      expect(ddb).not.toHaveReceivedAnyCommand();
    },
  );
});

describe('DynamoSequences', () => {
  it('increments one counter item atomically and returns the new value', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { value: 17 } });
    expect(await new DynamoSequences(doc, 'main').next('artifact-relation')).toBe(17);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toEqual({
      TableName: 'main',
      Key: { pk: 'SEQ#artifact-relation', sk: 'N' },
      UpdateExpression: 'ADD #value :count',
      ExpressionAttributeNames: { '#value': 'value' },
      ExpressionAttributeValues: { ':count': 1 },
      ReturnValues: 'UPDATED_NEW',
    });
  });
});
