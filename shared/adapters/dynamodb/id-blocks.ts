import type { Sequences } from '../../ports';

type SequenceName = Parameters<Sequences['next']>[0];

/** A counter that can hand out a block of `count` consecutive ids in one write. */
export interface BlockReserver {
  /** Reserves `count` ids and returns the highest; the block is `[highest − count + 1, highest]`. */
  reserve(name: SequenceName, count: number): Promise<number>;
}

/**
 * Ids per counter write for the sequences that every create takes from (hi/lo): a function instance
 * writes the counter once per block instead of once per id, so creates are not capped by the
 * ≈ 1,000 writes/s of the one counter item. Other sequences (workflow run numbers, rate counters,
 * rarely created entities) stay dense: one write per id.
 */
export const ID_BLOCK_SIZES: Partial<Record<string, number>> = { 'work-request': 100, artifact: 100 };

/**
 * Hi/lo id allocation in front of a counter: each sequence takes a block of ids in one counter write
 * and hands them out in memory, in increasing order. Ids stay unique across processes (each block is
 * reserved by an atomic write), and increase within this process; ids of a block this process never
 * uses are skipped (gaps, never reuse). Concurrent callers share one refill.
 */
export class BlockSequences implements Sequences {
  private readonly blocks = new Map<string, { next: number; last: number }>();
  private readonly refills = new Map<string, Promise<void>>();

  constructor(
    private readonly counter: BlockReserver,
    private readonly blockSizes: Partial<Record<string, number>> = ID_BLOCK_SIZES,
  ) {}

  async next(name: SequenceName): Promise<number> {
    const size = this.blockSizes[name] ?? 1;
    if (size <= 1) return this.counter.reserve(name, 1);
    for (;;) {
      const block = this.blocks.get(name);
      if (block && block.next <= block.last) return block.next++;
      await this.refill(name, size);
    }
  }

  private refill(name: string, size: number): Promise<void> {
    let pending = this.refills.get(name);
    if (!pending) {
      pending = this.counter
        .reserve(name as SequenceName, size)
        .then((highest) => {
          this.blocks.set(name, { next: highest - size + 1, last: highest });
        })
        .finally(() => this.refills.delete(name));
      this.refills.set(name, pending);
    }
    return pending;
  }
}
