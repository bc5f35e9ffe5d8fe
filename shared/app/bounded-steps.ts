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
