/**
 * Notification channels (Debusine's `NotificationChannel(name, method, data)`) in the main table:
 * one partition holds them all (they are few, written by administrators only).
 *
 * | entity | pk | sk | attributes |
 * | --- | --- | --- | --- |
 * | channel | `CHANNELS` | `C#<name>` | name, method, dataJson |
 *
 * `get` is a consistent GetItem, `list` a consistent Query of the partition (name order), `put` an
 * unconditional Put (create or replace).
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../../domain/errors';
import type { NotificationChannel, NotificationChannelRepository } from '../../ports';
import type { Key } from './keys';
import { type Item, queryPartition } from './support';

export const CHANNELS_PARTITION = 'CHANNELS';

export function channelKey(name: string): Key {
  if (name.length === 0) throw ValidationError.field('name', 'must not be empty');
  if (Buffer.byteLength(name, 'utf8') > 255) throw ValidationError.field('name', 'must be at most 255 bytes');
  return { pk: CHANNELS_PARTITION, sk: `C#${name}` };
}

export class DynamoNotificationChannelRepository implements NotificationChannelRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(name: string): Promise<NotificationChannel | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: channelKey(name), ConsistentRead: true }));
    return res.Item && toChannel(res.Item);
  }

  async put(channel: NotificationChannel): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: channelItem(channel) }));
  }

  async list(): Promise<NotificationChannel[]> {
    const items = await queryPartition(this.doc, this.tableName, CHANNELS_PARTITION, { beginsWith: 'C#' });
    return items.map(toChannel);
  }
}

export function channelItem(channel: NotificationChannel): Item {
  return {
    ...channelKey(channel.name),
    entity: 'notificationChannel',
    name: channel.name,
    method: channel.method,
    dataJson: JSON.stringify(channel.data ?? {}),
  };
}

export function toChannel(item: Item): NotificationChannel {
  return { name: item.name, method: item.method, data: JSON.parse(item.dataJson ?? '{}') };
}
