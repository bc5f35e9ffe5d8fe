import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { SocketConnection, SocketConnectionRepository } from '../../ports';
import { names, queryIndexPartition, scanAll, type Item } from '../dynamodb/support';

/** API Gateway closes a WebSocket after 2 hours at most; the item's TTL only collects lost deletes. */
const CONNECTION_TTL_SECONDS = 3 * 3600;

const key = (connectionId: string) => ({ pk: `CONN#${connectionId}`, sk: 'C' });
const workerGroup = (worker: string) => `WORKER#${worker}`;
const LISTENERS = 'LISTENERS';
const WORKERS = 'WORKERS';

/** Connections in their own table: `CONN#<id>`; gsi1 `WORKER#<name>` / `LISTENERS`, by id. */
export class DynamoSocketConnections implements SocketConnectionRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(c: SocketConnection): Promise<void> {
    const group = c.kind === 'worker' && c.worker && !c.rejection ? workerGroup(c.worker) : c.kind === 'on-completed' && !c.rejection ? LISTENERS : undefined;
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...key(c.connectionId),
          ...(group ? { gsi1pk: group, gsi1sk: c.connectionId } : {}),
          // The watchdog's sweep finds every worker socket by this marker (one index per item).
          kindGroup: group?.startsWith('WORKER#') ? WORKERS : undefined,
          connectionJson: JSON.stringify(c),
          ttl: Math.floor(Date.parse(c.connectedAt) / 1000) + CONNECTION_TTL_SECONDS,
        },
      }),
    );
  }

  async get(connectionId: string): Promise<SocketConnection | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key(connectionId), ConsistentRead: true }));
    return res.Item ? parse(res.Item) : undefined;
  }

  async delete(connectionId: string): Promise<SocketConnection | undefined> {
    const res = await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: key(connectionId), ReturnValues: 'ALL_OLD' }));
    return res.Attributes ? parse(res.Attributes) : undefined;
  }

  forWorker(worker: string): Promise<SocketConnection[]> {
    return this.group(workerGroup(worker));
  }

  listeners(): Promise<SocketConnection[]> {
    return this.group(LISTENERS);
  }

  /** Open worker sockets are few (one per Debusine worker): a filtered scan of a small table. */
  async workers(): Promise<SocketConnection[]> {
    const items = await scanAll(this.doc, {
      TableName: this.tableName,
      FilterExpression: '#kindGroup = :workers',
      ExpressionAttributeNames: names('kindGroup'),
      ExpressionAttributeValues: { ':workers': WORKERS },
    });
    return items.map(parse);
  }

  private async group(gsi1pk: string): Promise<SocketConnection[]> {
    const items = await queryIndexPartition(this.doc, this.tableName, gsi1pk);
    return items.map(parse);
  }
}

function parse(item: Item): SocketConnection {
  return JSON.parse(String(item['connectionJson'])) as SocketConnection;
}
