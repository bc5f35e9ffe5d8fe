/**
 * The audit log in its own table: one partition per UTC day (`DAY#<yyyy-mm-dd>`, entries sorted
 * by `<at>#<id>`), plus one `DAYS` partition listing the days that hold entries, so that a
 * newest-first listing reads only non-empty days and never stops early at a long gap.
 * See docs/data-model.md.
 */
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../../domain/errors';
import type { AuditEntry } from '../../domain/tenancy';
import type { AuditLog, Page } from '../../ports';
import { attempt } from './errors';
import { keys, timeKey } from './keys';
import { checkLimit, decodeCursor, encodeCursor, type Item, names } from './support';

/** Days read from the `DAYS` partition per query while a page fills. */
const DAYS_PER_QUERY = 20;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class DynamoAuditLog implements AuditLog {
  /** Days this process has already recorded in `DAYS` (saves that write on every append). */
  private readonly knownDays = new Set<string>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Records the day first, then the entry (a crash in between leaves an empty day, which
   * listing skips). Appending the same entry twice (same id and time) changes nothing.
   */
  async append(entry: AuditEntry): Promise<void> {
    const at = timeKey(entry.at, 'at');
    const day = at.slice(0, 10);
    if (!this.knownDays.has(day)) {
      await this.putIfAbsent({ ...keys.auditDay(day), entity: 'audit-day', day });
      this.knownDays.add(day);
    }
    await this.putIfAbsent({
      ...keys.auditEntry(day, at, entry.id),
      entity: 'audit',
      id: entry.id,
      at: entry.at,
      actor: entry.actor,
      action: entry.action,
      detailsJson: JSON.stringify(entry.details ?? {}),
    });
  }

  /**
   * Newest first. The cursor is base64url JSON `{d: day, k: sort key of the last entry returned}`;
   * the next page continues in that day after `k`, then in older days.
   */
  async list(opts: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
    checkLimit(opts.limit);
    const from = opts.cursor === undefined ? undefined : decodePosition(opts.cursor);
    const entries: AuditEntry[] = [];
    // Where the last entry taken lives: the next page resumes right after it.
    let last = { d: '', k: '' };
    let daysStart: Record<string, unknown> | undefined;
    do {
      const days = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: from ? '#pk = :pk AND #sk <= :from' : '#pk = :pk',
          ExpressionAttributeNames: from ? names('pk', 'sk') : names('pk'),
          ExpressionAttributeValues: from ? { ':pk': 'DAYS', ':from': from.d } : { ':pk': 'DAYS' },
          ScanIndexForward: false,
          Limit: DAYS_PER_QUERY,
          ...(daysStart ? { ExclusiveStartKey: daysStart } : {}),
        }),
      );
      for (const dayItem of days.Items ?? []) {
        const day = String(dayItem.sk);
        let start: Record<string, unknown> | undefined = from && day === from.d ? { pk: `DAY#${day}`, sk: from.k } : undefined;
        do {
          const res = await this.doc.send(
            new QueryCommand({
              TableName: this.tableName,
              KeyConditionExpression: '#pk = :pk',
              ExpressionAttributeNames: names('pk'),
              ExpressionAttributeValues: { ':pk': `DAY#${day}` },
              ScanIndexForward: false,
              // One more than needed tells whether another page exists.
              Limit: opts.limit - entries.length + 1,
              ConsistentRead: true,
              ...(start ? { ExclusiveStartKey: start } : {}),
            }),
          );
          for (const item of res.Items ?? []) {
            if (entries.length === opts.limit) return { items: entries, next: encodeCursor(last) };
            entries.push(toEntry(item));
            last = { d: day, k: String(item.sk) };
          }
          start = res.LastEvaluatedKey;
        } while (start);
      }
      daysStart = days.LastEvaluatedKey;
    } while (daysStart);
    return { items: entries };
  }

  private async putIfAbsent(item: Item): Promise<void> {
    // A failed condition means the item is already there: nothing to do.
    await attempt(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: names('pk'),
        }),
      ),
    );
  }
}

function decodePosition(cursor: string): { d: string; k: string } {
  const position = decodeCursor(cursor, ['d', 'k']);
  const d = position.d!;
  const k = position.k!;
  if (!DAY.test(d) || !k.startsWith(d)) throw ValidationError.field('cursor', 'is not a valid cursor (pass the cursor of the previous page unchanged)');
  return { d, k };
}

function toEntry(item: Item): AuditEntry {
  return { id: item.id, at: item.at, actor: item.actor, action: item.action, details: JSON.parse(item.detailsJson ?? '{}') };
}
