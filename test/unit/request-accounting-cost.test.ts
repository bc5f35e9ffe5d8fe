/** Section 7's quota accounting rows: per-event cost of an accountant invocation, and the total beside the request life. */
import { ACCOUNTANT_MEMORY_MB, accountingCostPerEvent, renderRequestAccounting, type AccountingRun } from '../../bench/request-accounting';
import { emptySnapshot } from '../../bench/counters';

const run = (events: number, requests: number, rcuBilled: number, wcu: number, sqs: number, handlerMs: number, failed = 0): AccountingRun => ({
  events,
  users: 1,
  dynamo: { ...emptySnapshot(), requests: { GetItemCommand: requests }, failures: failed ? { 'TransactWriteItemsCommand:TransactionCanceledException': failed } : {}, rcuBilled, wcu },
  sqs: { ...emptySnapshot(), requests: { ReceiveMessageCommand: sqs / 2, DeleteMessageBatchCommand: sqs / 2 } },
  handlerMs,
});

describe('quota accounting of a finished request (section 7)', () => {
  it('prices one invocation per event when idle, and divides a batch by its events', () => {
    const idle = accountingCostPerEvent(run(1, 6, 4, 12, 2, 9.2));
    expect(idle).toMatchObject({ requests: 6, rru: 4, wru: 12, sqsRequests: 2, invocations: 1 });
    expect(idle.gbSeconds).toBeCloseTo(0.01 * (ACCOUNTANT_MEMORY_MB / 1024));
    expect(idle.computePerMillion).toBeCloseTo(idle.gbSeconds * 1e6 * 0.0000133334);
    expect(idle.perMillion - idle.computePerMillion).toBeCloseTo(0.2 + 12 * 1.25 + 4 * 0.25 + 2 * 0.4);
    const batched = accountingCostPerEvent(run(10, 35, 32, 50, 2, 30, 2));
    expect(batched).toMatchObject({ requests: 3.5, rru: 3.2, wru: 5.2, sqsRequests: 0.2, invocations: 0.1 });
  });

  it('renders both rows and the totals with quota accounting beside the request-life total', () => {
    const text = renderRequestAccounting({ idle: run(1, 6, 4, 12, 2, 9), batched: { ...run(10, 35, 32, 50, 2, 30), users: 2 } }, 39.24);
    expect(text).toMatch(/\| idle: the request's own event, alone in its invocation \| 1 \| 6 \| 4 \| 12 \| 2 \| 1 \|/);
    expect(text).toMatch(/\| under load: 10 finished requests of 2 users in one batch \| 10 \| 3\.50 \| 3\.20 \| 5 \| 0\.20 \| 0\.10 \|/);
    expect(text).toContain('| request life (the total above, as issue 12 measures it) | $39.24 |');
    const idle = accountingCostPerEvent(run(1, 6, 4, 12, 2, 9)).perMillion;
    expect(text).toContain(`**with quota accounting, idle** (one event per accountant invocation) | **$${(39.24 + idle).toFixed(2)}** |`);
  });
});
