/**
 * DynamoAuditLog and DynamoSequences against DynamoDB Local (see test/integration/global-setup.ts).
 * The audit table is shared: tests put their entries on days of their own (in the past, so that
 * they do not disturb other listings) and walk the whole log.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { DynamoAuditLog } from '../../shared/adapters/dynamodb/audit-log';
import { DynamoSequences } from '../../shared/adapters/dynamodb/sequences';
import { ValidationError } from '../../shared/domain/errors';
import type { AuditEntry } from '../../shared/domain/tenancy';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const audit = new DynamoAuditLog(doc, process.env.CONVEYOR_TABLE_AUDIT!);
const sequences = new DynamoSequences(doc, process.env.CONVEYOR_TABLE_MAIN!);

afterAll(() => doc.destroy());

async function walk(log: DynamoAuditLog, limit: number): Promise<{ pages: AuditEntry[][]; all: AuditEntry[] }> {
  const pages: AuditEntry[][] = [];
  let cursor: string | undefined;
  do {
    const page = await log.list({ limit, cursor });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    pages.push(page.items);
    cursor = page.next;
  } while (cursor && pages.length < 10_000);
  return { pages, all: pages.flat() };
}

describe('audit log', () => {
  test('lists newest first across days (with gaps of years), page by page', async () => {
    // A year of its own, far in the past and different per run, so entries of other runs do not interleave.
    const year = 1000 + Math.floor(Math.random() * 900);
    const run = randomUUID().slice(0, 8);
    const at = (y: number, md: string, time: string) => `${y}-${md}T${time}.000Z`;
    const entries: AuditEntry[] = [
      { id: `${run}-1`, at: at(year, '03-01', '10:00:00'), actor: 'admin', action: 'user.create', details: { username: 'a' } },
      { id: `${run}-2`, at: at(year, '03-01', '11:00:00'), actor: 'admin', action: 'token.grant', details: { nested: { n: [1, 2] } } },
      { id: `${run}-3`, at: at(year, '03-01', '11:00:00'), actor: 'admin', action: 'same-time', details: {} },
      { id: `${run}-4`, at: at(year, '03-05', '09:00:00'), actor: 'alice', action: 'workspace.update', details: {} },
      { id: `${run}-5`, at: at(year + 2, '01-01', '00:00:00'), actor: 'bob', action: 'role.grant', details: { role: 'owner' } },
    ];
    // appended out of order, and from two "processes"
    const other = new DynamoAuditLog(doc, process.env.CONVEYOR_TABLE_AUDIT!);
    for (const [i, e] of [entries[3], entries[0], entries[4], entries[2], entries[1]].entries()) await (i % 2 ? other : audit).append(e!);
    await audit.append(entries[0]!); // a replay changes nothing

    for (const limit of [1, 2, 3, 50]) {
      const { all } = await walk(audit, limit);
      // Globally sorted newest first...
      const keys = all.map((e) => `${new Date(e.at).toISOString()}#${e.id}`);
      expect(keys).toEqual([...keys].sort().reverse());
      expect(new Set(keys).size).toBe(keys.length);
      // ...and ours are all there, once, in order.
      const ours = all.filter((e) => e.id.startsWith(run));
      expect(ours).toEqual([entries[4], entries[3], entries[2], entries[1], entries[0]]);
    }
  });

  test('a cursor resumes where the page ended, even across days', async () => {
    const run = randomUUID().slice(0, 8);
    const year = 1000 + Math.floor(Math.random() * 900);
    const mine = [1, 2, 3].map((d) => ({ id: `${run}-${d}`, at: `${year}-07-0${d}T12:00:00.000Z`, actor: 'x', action: 'a', details: {} }));
    for (const e of mine) await audit.append(e);
    const { pages } = await walk(audit, 2);
    const flat = pages.flat().map((e) => e.id);
    expect(flat.filter((id) => id.startsWith(run))).toEqual([`${run}-3`, `${run}-2`, `${run}-1`]);
    expect(pages.slice(0, -1).every((p) => p.length === 2)).toBe(true);
  });

  test('a malformed cursor is a ValidationError on `cursor`; a bad limit on `limit`', async () => {
    for (const cursor of ['%%%', Buffer.from('{"d":"x","k":"y"}').toString('base64url'), Buffer.from('"s"').toString('base64url')]) {
      await expect(audit.list({ limit: 5, cursor })).rejects.toMatchObject({ fieldErrors: { cursor: expect.any(Array) } });
    }
    await expect(audit.list({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('sequences', () => {
  test('concurrent callers get distinct values; each caller sees them strictly increase', async () => {
    const callers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const mine: number[] = [];
        for (let i = 0; i < 5; i++) mine.push(await sequences.next('artifact'));
        return mine;
      }),
    );
    for (const mine of callers) for (let i = 1; i < mine.length; i++) expect(mine[i]!).toBeGreaterThan(mine[i - 1]!);
    const all = callers.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(await sequences.next('artifact')).toBeGreaterThan(Math.max(...all));
  });

  test('sequences are independent', async () => {
    const a = await sequences.next('artifact');
    const r1 = await sequences.next('artifact-relation');
    const r2 = await sequences.next('artifact-relation');
    expect(r2).toBe(r1 + 1);
    expect(await sequences.next('artifact')).toBeGreaterThan(a);
  });
});
