/**
 * One bounded step of the expiry pass reads at most `max` entries due now from its index, then works
 * through them while there is time. `report.finished` turns false when the read was full (the rest
 * waits in the index) or when time ran out before the last entry (the next pass goes on).
 */
export function* whileInBounds<T>(report: { finished: boolean }, due: readonly T[], max: number, outOfTime?: () => boolean): Generator<T> {
  if (due.length >= max) report.finished = false;
  for (const entry of due) {
    if (outOfTime?.()) {
      report.finished = false;
      return;
    }
    yield entry;
  }
}

/**
 * The entries of a bounded step: at most `max` due at `now`, read from its index with `readDue`,
 * then handed out by whileInBounds. Reading with the same `max` that the full-read rule checks is
 * what makes that rule right, so both take it from here.
 */
export async function dueInBounds<T>(
  report: { finished: boolean },
  readDue: (dueBy: string, max: number) => Promise<readonly T[]>,
  bounds: { now: Date; max: number; outOfTime?: () => boolean },
): Promise<Iterable<T>> {
  return whileInBounds(report, await readDue(bounds.now.toISOString(), bounds.max), bounds.max, bounds.outOfTime);
}
