/** The worker's one backoff (cli/worker/backoff.ts): doubles up to the cap, starts over after a success. */
import { Backoff } from '../../cli/worker/backoff';

it('waits initial, doubled each time up to the cap, and starts over after reset', async () => {
  const waits: number[] = [];
  const backoff = new Backoff(5_000, 30_000, async (ms) => void waits.push(ms));
  expect(backoff.nextSeconds).toBe(5);
  for (let i = 0; i < 5; i++) await backoff.wait();
  expect(waits).toEqual([5_000, 10_000, 20_000, 30_000, 30_000]);
  expect(backoff.nextSeconds).toBe(30);
  backoff.reset();
  await backoff.wait();
  expect(waits.at(-1)).toBe(5_000);
});
