import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Sequences } from '../../ports';
import type { BlockReserver } from './id-blocks';
import { keys } from './keys';
import { names } from './support';

/**
 * Monotonic ids from one counter item per sequence (`SEQ#<name>` / `N`), incremented with an
 * atomic `ADD`. Concurrent callers always get distinct, increasing values; a request the SDK
 * retries after a lost response may skip a number (gaps are harmless, ids are never reused).
 */
export class DynamoSequences implements Sequences, BlockReserver {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  next(name: Parameters<Sequences['next']>[0]): Promise<number> {
    return this.reserve(name, 1);
  }

  /** One `ADD #value :count`: the counter then holds the highest id of the reserved block. */
  async reserve(name: Parameters<Sequences['next']>[0], count: number): Promise<number> {
    if (!Number.isSafeInteger(count) || count < 1) throw new Error(`sequence ${name}: cannot reserve ${count} ids`);
    const res = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.sequence(name),
        UpdateExpression: 'ADD #value :count',
        ExpressionAttributeNames: names('value'),
        ExpressionAttributeValues: { ':count': count },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const value = res.Attributes?.value;
    if (typeof value !== 'number') throw new Error(`sequence ${name}: UpdateItem returned no value`);
    return value;
  }
}
