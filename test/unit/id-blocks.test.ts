/** Hi/lo id allocation (BlockSequences) over a counter that records its writes. */
import { BlockSequences, ID_BLOCK_SIZES, type BlockReserver } from '../../shared/adapters/dynamodb/id-blocks';

/** One shared counter per sequence, like the `SEQ#<name>` item: each reserve is one write. */
class RecordingCounter implements BlockReserver {
  readonly values = new Map<string, number>();
  readonly writes: { name: string; count: number }[] = [];
  failNext = false;
  async reserve(name: string, count: number): Promise<number> {
    await new Promise((r) => setImmediate(r)); // a real round trip: callers overlap
    if (this.failNext) {
      this.failNext = false;
      throw new Error('throttled');
    }
    this.writes.push({ name, count });
    const value = (this.values.get(name) ?? 0) + count;
    this.values.set(name, value);
    return value;
  }
}

describe('BlockSequences', () => {
  it('writes the counter once per block and hands out the block in increasing order', async () => {
    const counter = new RecordingCounter();
    const seq = new BlockSequences(counter, { 'work-request': 10 });
    const ids: number[] = [];
    for (let i = 0; i < 25; i++) ids.push(await seq.next('work-request'));
    expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(counter.writes).toEqual([1, 2, 3].map(() => ({ name: 'work-request', count: 10 })));
  });

  it('shares one refill between concurrent callers and never hands out an id twice', async () => {
    const counter = new RecordingCounter();
    const seq = new BlockSequences(counter, { artifact: 8 });
    const ids = await Promise.all(Array.from({ length: 50 }, () => seq.next('artifact')));
    expect(new Set(ids).size).toBe(50);
    expect(counter.writes).toHaveLength(Math.ceil(50 / 8));
  });

  it('two processes on one counter: unique ids, each process increasing, blocks never overlap', async () => {
    const counter = new RecordingCounter();
    const a = new BlockSequences(counter, { 'work-request': 5 });
    const b = new BlockSequences(counter, { 'work-request': 5 });
    const fromA: number[] = [];
    const fromB: number[] = [];
    for (let i = 0; i < 12; i++) {
      fromA.push(await a.next('work-request'));
      fromB.push(await b.next('work-request'));
    }
    expect(new Set([...fromA, ...fromB]).size).toBe(24);
    for (const ids of [fromA, fromB]) expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(fromA.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    expect(fromB.slice(0, 5)).toEqual([6, 7, 8, 9, 10]);
  });

  it('keeps sequences without a block size dense: one counter write per id', async () => {
    const counter = new RecordingCounter();
    const seq = new BlockSequences(counter, { 'work-request': 100 });
    expect([await seq.next('run:s#w#name'), await seq.next('run:s#w#name'), await seq.next('worker')]).toEqual([1, 2, 1]);
    expect(counter.writes.map((w) => w.count)).toEqual([1, 1, 1]);
  });

  it('a failed refill fails the caller and the next call tries again', async () => {
    const counter = new RecordingCounter();
    const seq = new BlockSequences(counter, { 'work-request': 3 });
    counter.failNext = true;
    await expect(seq.next('work-request')).rejects.toThrow('throttled');
    expect(await seq.next('work-request')).toBe(1);
  });

  it('blocks the create-heavy sequences by default, and only those', () => {
    expect(ID_BLOCK_SIZES['work-request']).toBeGreaterThanOrEqual(20); // ≤ 0.05 counter writes per create
    expect(ID_BLOCK_SIZES['artifact']).toBeGreaterThanOrEqual(20);
    expect(Object.keys(ID_BLOCK_SIZES).some((k) => k.startsWith('run:') || k.startsWith('rate:'))).toBe(false);
  });
});
