import { createHash } from 'node:crypto';
import {
  DEBUSINE_RANGE_PREFIX,
  RANGE_PATH_METADATA,
  RANGE_TOKEN_METADATA,
  parseDebusineRangeKey,
} from '../formats/debusine-range-edge';
import type { Deps } from '../ports';
import { authenticateTokenHash } from './auth';
import { assembleRanges, loadUploadTarget } from './uploads';

/** What became of one stored range (logged by the function; tests read it). */
export type RangeRecordOutcome =
  | { kind: 'discarded'; reason: string }
  | { kind: 'waiting'; received: number }
  | { kind: 'assembled' }
  | { kind: 'already-complete' };

/**
 * A range of Debusine's ranged upload that CloudFront stored in the bucket (shared/formats/debusine-range-edge.ts).
 * Checks it as the API checks a range (the token's caller may upload to that file of that artifact, the
 * range fits the declared size); a range that fails is deleted. When the stored ranges of the file cover
 * it from its first to its last byte, they are assembled, the SHA-256 is checked and the file completes
 * (assembleRanges). Ranges may be notified in any order and more than once.
 */
export async function recordStoredRange(deps: Deps, key: string): Promise<RangeRecordOutcome> {
  const parsed = parseDebusineRangeKey(key);
  if (!parsed) return { kind: 'discarded', reason: `not a range key: ${key}` };
  const object = await deps.files.head(key);
  if (!object) return { kind: 'discarded', reason: 'the range is gone (already assembled or deleted)' };
  const discard = async (reason: string): Promise<RangeRecordOutcome> => {
    await deps.files.delete(key);
    return { kind: 'discarded', reason };
  };
  const tokenHash = object.metadata?.[RANGE_TOKEN_METADATA];
  const encodedPath = object.metadata?.[RANGE_PATH_METADATA];
  if (!tokenHash || !encodedPath) return discard('the range carries no token or path');
  let path: string;
  try {
    path = decodeURIComponent(encodedPath);
  } catch {
    return discard('the path is not valid percent-encoding');
  }
  if (createHash('sha256').update(path, 'utf8').digest('hex') !== parsed.pathSha256) return discard('the path does not match the key');
  if (object.size !== parsed.end - parsed.start + 1) return discard(`the range names ${parsed.end - parsed.start + 1} bytes, ${object.size} arrived`);

  let target;
  try {
    const caller = await authenticateTokenHash(deps, tokenHash);
    target = await loadUploadTarget(deps, caller, parsed.artifactId, path);
  } catch (err) {
    // Unknown token, no permission, no such artifact or file: the same refusals as the API's.
    return discard(`refused: ${err instanceof Error ? err.message : String(err)}`);
  }
  const filePrefix = `${DEBUSINE_RANGE_PREFIX}${parsed.artifactId}/${parsed.pathSha256}/`;
  if (target.file.complete) {
    for (const stored of await deps.files.list(filePrefix)) await deps.files.delete(stored.key);
    return { kind: 'already-complete' };
  }
  if (parsed.size !== target.file.size) return discard(`the range's size ${parsed.size} differs from the declared size ${target.file.size}`);

  const chain = contiguousRanges(await deps.files.list(filePrefix), target.file.size);
  if (chain.received < target.file.size) return { kind: 'waiting', received: chain.received };
  await assembleRanges(deps, target, chain.keys);
  return { kind: 'assembled' };
}

/** The ranges that follow each other from byte 0 (the longest at each step), and how far they reach. */
function contiguousRanges(stored: { key: string; size: number }[], size: number): { keys: string[]; received: number } {
  const ranges = stored
    .map((s) => ({ key: s.key, range: parseDebusineRangeKey(s.key), bytes: s.size }))
    .filter((r) => r.range !== undefined && r.range.size === size && r.bytes === r.range.end - r.range.start + 1);
  const keys: string[] = [];
  let received = 0;
  for (;;) {
    const next = ranges.filter((r) => r.range!.start === received).sort((a, b) => b.range!.end - a.range!.end)[0];
    if (!next) return { keys, received };
    keys.push(next.key);
    received = next.range!.end + 1;
    if (received >= size) return { keys, received };
  }
}
