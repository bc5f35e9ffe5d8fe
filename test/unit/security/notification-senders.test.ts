/**
 * Security finding 3: a contributor's send-notification reaction cannot choose the sender or
 * recipients; only the administrator-configured channel's addresses are used.
 */
import { runEventReactions } from '../../../shared/app/event-reactions';
import { createWorkRequest } from '../../../shared/app/work-requests';
import { createSchedulingWorld, type SchedulingWorld } from '../../support/scheduling';
import { workApiClient } from '../../support/work-api';

let w: SchedulingWorld;
beforeEach(async () => {
  w = await createSchedulingWorld();
  await w.deps.channels.put({ name: 'team', method: 'email', data: { to: ['team@example.org', 'lead@example.org'], cc: ['cc@example.org'], from: 'conveyor@example.org' } });
});

const submit = (data: Record<string, unknown>) =>
  workApiClient(w.deps)('POST', '/api/1.0/work-request/', {
    token: w.keys['contributor'],
    body: { workspace: 'priv', task_name: 'noop', task_data: {}, event_reactions: { on_success: [{ action: 'send-notification', channel: 'team', data }] } },
  });

it.each([
  [{ from: 'ceo@example.org' }, 'event_reactions.on_success[0].data.from'],
  [{ to: ['victim@elsewhere.example'] }, 'event_reactions.on_success[0].data.to'],
  [{ to: ['team@example.org'], cc: ['victim@elsewhere.example'] }, 'event_reactions.on_success[0].data.cc'],
])('refuses a reaction choosing %j (400 naming %s) and stores nothing', async (data, field) => {
  const res = await submit(data);
  expect(res.status).toBe(400);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(Object.keys(res.json.validation_errors)).toEqual([field]);
  expect(w.deps.workRequests.items.size).toBe(0);
});

it('accepts a reaction narrowing to the channel\'s own addresses', async () => {
  const res = await submit({ to: ['Lead <LEAD@example.org>'], subject: 'done' });
  expect(res.status).toBe(200);
});

it('a reaction stored before the check (or for a channel created later) still cannot send elsewhere', async () => {
  const wr = await createWorkRequest(w.deps, await w.caller('contributor'), { scope: 'debusine', workspace: 'priv', taskName: 'noop', taskData: {} });
  const forged = {
    ...wr,
    status: 'completed' as const,
    result: 'success' as const,
    eventReactions: { on_success: [{ action: 'send-notification', channel: 'team', data: { from: 'ceo@example.org', to: ['victim@elsewhere.example'] } }] },
  };
  await runEventReactions(w.deps, forged, 'on_success');
  expect(w.deps.notifier.sent).toEqual([]);
  await runEventReactions(w.deps, { ...forged, eventReactions: { on_success: [{ action: 'send-notification', channel: 'team' }] } }, 'on_success');
  expect(w.deps.notifier.sent).toEqual([
    expect.objectContaining({ from: 'conveyor@example.org', to: ['team@example.org', 'lead@example.org'], cc: ['cc@example.org'] }),
  ]);
});
