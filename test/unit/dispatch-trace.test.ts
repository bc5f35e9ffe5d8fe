/** The dispatch trace's round trips (bench/dispatch-trace.ts): requests in flight together count once. */
import { renderDispatchTraceSection, roundTrips } from '../../bench/dispatch-trace';

const call = (command: string, start: number, end: number) => ({ command, start, end });

describe('dispatch trace', () => {
  it('groups overlapping requests into one round trip and keeps sequential ones apart', () => {
    const trips = roundTrips([call('Query', 0, 5), call('Query', 1, 4), call('GetItem', 6, 8), call('TransactWriteItems', 9, 12), call('SendMessage', 11, 13)]);
    expect(trips.map((g) => g.map((c) => c.command))).toEqual([['Query', 'Query'], ['GetItem'], ['TransactWriteItems', 'SendMessage']]);
  });

  it('renders each step with its request count, round trips and sequence', () => {
    const section = renderDispatchTraceSection(
      { repetitions: 1, steps: [{ label: 'pass', ms: [10], calls: [[call('Query', 0, 2), call('Query', 0, 3), call('GetItem', 4, 5)]] }] },
      'npm run bench',
    );
    expect(section).toContain('| pass | 10.0 ms | 4.0 ms | 3 | 2 | (Query ‖ Query) → GetItem |');
  });
});
