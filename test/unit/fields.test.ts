import { camelCase, camelCaseFields, definedFields, pickFields, snakeCase, snakeCaseFields } from '../../shared/domain/fields';
import { dueInBounds, whileInBounds } from '../../shared/app/bounded-steps';

describe('field mappings (shared/domain/fields.ts)', () => {
  it.each([
    ['fullHistoryRetentionPeriod', 'full_history_retention_period'],
    ['id', 'id'],
    ['taskData', 'task_data'],
  ])('spells %s as %s and back', (camel, snake) => {
    expect(snakeCase(camel)).toBe(snake);
    expect(camelCase(snake)).toBe(camel);
  });

  it('copies only the fields named, renamed, in the order given', () => {
    const record = { id: 1, createdAt: 'then', taskName: 'noop', secret: 'x' };
    const wire = snakeCaseFields(record, ['taskName', 'createdAt']);
    expect(wire).toEqual({ task_name: 'noop', created_at: 'then' });
    expect(Object.keys(wire)).toEqual(['task_name', 'created_at']);
    expect(camelCaseFields({ task_name: 'noop', task_data: { a: 1 }, other: 2 }, ['task_name', 'task_data'])).toEqual({ taskName: 'noop', taskData: { a: 1 } });
    expect(pickFields(record, ['id', 'taskName'])).toEqual({ id: 1, taskName: 'noop' });
  });

  it('keeps a field that is undefined in the record as undefined (callers that mean "absent" use definedFields)', () => {
    const copied = camelCaseFields({ review_status: undefined, update_interval: null } as { review_status?: string; update_interval: number | null }, ['review_status', 'update_interval']);
    expect('reviewStatus' in copied).toBe(true);
    expect(definedFields(copied)).toEqual({ updateInterval: null });
  });
});

describe('whileInBounds (shared/app/bounded-steps.ts)', () => {
  it('hands out every entry and stays finished when the read was not full', () => {
    const report = { finished: true };
    expect([...whileInBounds(report, [1, 2], 3)]).toEqual([1, 2]);
    expect(report.finished).toBe(true);
  });

  it('is not finished when the read was full (the rest waits in the index)', () => {
    const report = { finished: true };
    expect([...whileInBounds(report, [1, 2, 3], 3)]).toEqual([1, 2, 3]);
    expect(report.finished).toBe(false);
  });

  it('stops before the next entry once time has run out, unfinished', () => {
    const report = { finished: true };
    let calls = 0;
    expect([...whileInBounds(report, [1, 2, 3], 10, () => ++calls > 2)]).toEqual([1, 2]);
    expect(report.finished).toBe(false);
  });
});

describe('dueInBounds (shared/app/bounded-steps.ts)', () => {
  it('reads what is due now with the same limit that decides "not finished"', async () => {
    const reads: [string, number][] = [];
    const readDue = async (dueBy: string, max: number) => {
      reads.push([dueBy, max]);
      return [1, 2, 3].slice(0, max);
    };
    const now = new Date('2026-12-06T10:00:00Z');
    const full = { finished: true };
    expect([...(await dueInBounds(full, readDue, { now, max: 2 }))]).toEqual([1, 2]);
    expect(full.finished).toBe(false);
    const partial = { finished: true };
    expect([...(await dueInBounds(partial, readDue, { now, max: 5 }))]).toEqual([1, 2, 3]);
    expect(partial.finished).toBe(true);
    expect(reads).toEqual([['2026-12-06T10:00:00.000Z', 2], ['2026-12-06T10:00:00.000Z', 5]]);
  });

  it('stops when time runs out, unfinished', async () => {
    const report = { finished: true };
    let calls = 0;
    expect([...(await dueInBounds(report, async () => [1, 2, 3], { now: new Date(), max: 10, outOfTime: () => ++calls > 1 }))]).toEqual([1]);
    expect(report.finished).toBe(false);
  });
});
