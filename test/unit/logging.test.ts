/**
 * Structured logs (issue 7, item 3): Powertools' Logger writes one JSON object per entry with the
 * level, the message, the service and Conveyor's keys (work_request_id, worker, workspace).
 */
import { ConflictError } from '../../shared/domain/errors';
import { logFollowUpFailures, logger } from '../../shared/observability/logger';

it('a failed follow-up is one JSON warning with the work-request, worker and workspace keys and the error', () => {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  });
  const spyErr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    logFollowUpFailures([{ step: 'unblock dependents', workRequestId: 7, error: new ConflictError('Lost race', 'twice') }], { worker: 'bee', workspace: 'priv' });
  } finally {
    spy.mockRestore();
    spyErr.mockRestore();
  }
  const entries = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({ level: 'WARN', message: 'follow-up failed: unblock dependents', service: 'conveyor', work_request_id: 7, worker: 'bee', workspace: 'priv' });
  expect(entries[0]!.error).toMatchObject({ name: 'ConflictError', message: 'Lost race: twice' });
  expect(logger.getLevelName()).toBe(process.env['LOG_LEVEL']?.toUpperCase() ?? 'INFO');
});
