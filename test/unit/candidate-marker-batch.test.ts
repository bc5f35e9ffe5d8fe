/**
 * A marker batch (a populate letting many children go): each pending partition's marker is set at
 * the first commit into it and once more at `close` if entered again since, instead of once per
 * commit. Checked against the DynamoDB commands the markers send (a fake client records them).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CandidateMarkers, COMMIT_WINDOW_MS, COVER_MARGIN_MS, MarkerBatch } from '../../shared/adapters/dynamodb/candidate-markers';

function recordingMarkers(indexLagMs = 0) {
  const sets: string[] = [];
  const doc = {
    send: async (command: { input: { Key?: { sk?: string }; UpdateExpression?: string } }) => {
      if (command.input.UpdateExpression?.includes('#holds = :true')) sets.push(String(command.input.Key?.sk));
      return {};
    },
  } as unknown as DynamoDBDocumentClient;
  return { sets, markers: new CandidateMarkers(doc, 'main', indexLagMs) };
}

const amd64 = (shard: number) => `PENDING#Worker#amd64#${shard}`;

test('100 commits into one partition (any shard) set its marker twice: at the first commit and at close', async () => {
  const { sets, markers } = recordingMarkers();
  const batch = new MarkerBatch(markers);
  for (let i = 0; i < 100; i++) {
    await batch.noteEntered([amd64(i % 4)]);
    expect(sets).toEqual(['Worker#amd64']); // the first request is visible at once; no set per commit after it
  }
  await batch.close();
  expect(sets).toEqual(['Worker#amd64', 'Worker#amd64']);
  await batch.close(); // nothing entered since
  expect(sets).toHaveLength(2);
});

test('each partition once at its first commit; close sets only those entered again; other index entries set nothing', async () => {
  const { sets, markers } = recordingMarkers();
  const batch = new MarkerBatch(markers);
  await batch.noteEntered([amd64(0), 'PENDING#Worker#arm64#1', 'RUNNING#2', undefined]);
  await batch.noteEntered([amd64(3)]);
  await batch.noteEntered(['PENDING#Server#-#0']);
  expect(sets.sort()).toEqual(['Server#-', 'Worker#amd64', 'Worker#arm64']);
  sets.length = 0;
  await batch.close();
  expect(sets).toEqual(['Worker#amd64']);
});

test('without a batch a commit sends no set while its marker is covered by this process\'s last set, and says until when it relies on it', async () => {
  const { sets, markers } = recordingMarkers();
  const at = (ms: number) => markers.setAlongside([amd64(ms % 4)], ms, ms + COMMIT_WINDOW_MS);
  expect(await at(1_000)).toEqual(new Map([['Worker#amd64', 1_000 + COMMIT_WINDOW_MS]])); // sent: covered up to its own window
  // Sent within the cover (less the margin): no write; covered up to the stored setAt, not its own window.
  expect(await at(1_000 + COMMIT_WINDOW_MS - COVER_MARGIN_MS)).toEqual(new Map([['Worker#amd64', 1_000 + COMMIT_WINDOW_MS]]));
  expect(sets).toEqual(['Worker#amd64']);
  // Less than the margin left: set again, with a later setAt.
  const late = 1_001 + COMMIT_WINDOW_MS - COVER_MARGIN_MS;
  expect(await at(late)).toEqual(new Map([['Worker#amd64', late + COMMIT_WINDOW_MS]]));
  expect(sets).toEqual(['Worker#amd64', 'Worker#amd64']);
  // Another partition has its own cover; entries outside pending partitions set nothing.
  await markers.setAlongside(['PENDING#Worker#arm64#0', 'RUNNING#1', undefined], late, late + COMMIT_WINDOW_MS);
  expect(sets).toEqual(['Worker#amd64', 'Worker#amd64', 'Worker#arm64']);
});

test('with a lag margin the cover lasts that much longer (a reader clears only twice the lag after the stored setAt)', async () => {
  const { sets, markers } = recordingMarkers(1_000);
  await markers.setAlongside([amd64(0)], 0, COMMIT_WINDOW_MS);
  expect(markers.coveredUntil('Worker#amd64')).toBe(COMMIT_WINDOW_MS + 1_000);
  expect(await markers.setAlongside([amd64(1)], 1_100, 1_100 + COMMIT_WINDOW_MS)).toEqual(new Map([['Worker#amd64', COMMIT_WINDOW_MS + 1_000]]));
  expect(sets).toEqual(['Worker#amd64']);
  expect(markers.coveredUntil('Worker#arm64')).toBeUndefined();
});
