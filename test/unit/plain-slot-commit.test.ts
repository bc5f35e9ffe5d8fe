/**
 * Which commits the DynamoDB adapter writes as two plain writes (plain-slot-commit.ts): exactly one
 * request and its own slot, an assignment or a finish outside any workflow. Everything else stays
 * one transaction.
 */
import { writtenInTwoSteps } from '../../shared/adapters/dynamodb/plain-slot-commit';
import { bump, newWorkRequest, type WorkRequest } from '../../shared/domain/work-requests';

const pending = newWorkRequest({ id: 7, scope: 'debusine', workspace: 'System', createdBy: 'user:alice', taskType: 'Worker', taskName: 'noop', taskData: {}, createdAt: '2026-12-06T10:00:00.000Z' });
const assigned = bump(pending, { worker: 'w1', assignedAt: '2026-12-06T10:00:01.000Z' });
const running = bump(assigned, { status: 'running', startedAt: '2026-12-06T10:00:02.000Z' });
const completed = bump(running, { status: 'completed', result: 'success', completedAt: '2026-12-06T10:00:03.000Z' });

const assignment = (wr: WorkRequest = assigned, workRequestId: number | null = wr.id) => ({
  update: [{ workRequest: wr, expectedVersion: pending.version }],
  slots: [{ worker: 'w1', delta: 1 as const, ...(workRequestId === null ? {} : { workRequestId }) }],
});
const finish = (wr: WorkRequest = completed, finishes = true) => ({
  update: [{ workRequest: wr, expectedVersion: running.version, finishes }],
  slots: [{ worker: 'w1', delta: -1 as const, workRequestId: wr.id }],
});

it('an assignment naming its request: two plain writes', () => {
  expect(writtenInTwoSteps(assignment())).toBe(true);
});

it('a request created already assigned, with its slot (create-offer.ts): two plain writes', () => {
  const creation = (wr: WorkRequest) => ({ create: [wr], slots: [{ worker: 'w1', delta: 1 as const, workRequestId: wr.id }] });
  expect(writtenInTwoSteps(creation(assigned))).toBe(true);
  expect(writtenInTwoSteps(creation(pending))).toBe(false); // created pending: no slot to take
  expect(writtenInTwoSteps(creation(bump(assigned, { parent: 3 })))).toBe(false); // a workflow child: its link and progress too
  expect(writtenInTwoSteps({ ...creation(assigned), update: assignment().update })).toBe(false);
});

it('a finish that gives the slot back: two plain writes', () => {
  expect(writtenInTwoSteps(finish())).toBe(true);
  expect(writtenInTwoSteps(finish(bump(running, { status: 'aborted', completedAt: '2026-12-06T10:00:03.000Z' })))).toBe(true);
});

it('stays a transaction: no request id, another request id, a workflow child, an unassignment, more items', () => {
  expect(writtenInTwoSteps(assignment(assigned, null))).toBe(false);
  expect(writtenInTwoSteps(assignment(assigned, 8))).toBe(false);
  expect(writtenInTwoSteps(assignment(pending))).toBe(false); // the request does not name the worker
  expect(writtenInTwoSteps(finish(bump(completed, { parent: 3 })))).toBe(false); // its workflow's progress is a third item
  expect(writtenInTwoSteps(finish(bump(assigned, { worker: null, assignedAt: null }), false))).toBe(false);
  const other = bump(newWorkRequest({ ...pending, id: 9 }), {});
  expect(writtenInTwoSteps({ ...finish(), create: [other] })).toBe(false);
  expect(writtenInTwoSteps({ ...finish(), update: [...finish().update, { workRequest: other, expectedVersion: 1 }] })).toBe(false);
  expect(writtenInTwoSteps({ ...finish(), addReverseDependencies: [{ dependency: 7, dependent: 9 }] })).toBe(false);
  expect(writtenInTwoSteps({ update: finish().update })).toBe(false);
});
