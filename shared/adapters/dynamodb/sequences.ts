import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Sequences } from '../../ports';
import { keys } from './keys';
import { names } from './support';

/**
 * Monotonic ids from one counter item per sequence (`SEQ#<name>` / `N`), incremented with an
 * atomic `ADD`. Concurrent callers always get distinct, increasing values; a request the SDK
 * retries after a lost response may skip a number (gaps are harmless, ids are never reused).
 */
export class DynamoSequences implements Sequences {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async next(name: Parameters<Sequences['next']>[0]): Promise<number> {
    const res = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.sequence(name),
        UpdateExpression: 'ADD #value :one',
        ExpressionAttributeNames: names('value'),
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const value = res.Attributes?.value;
    if (typeof value !== 'number') throw new Error(`sequence ${name}: UpdateItem returned no value`);
    return value;
  }
}
