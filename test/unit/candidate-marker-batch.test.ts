/**
 * A marker batch (a populate letting many children go): each pending partition's marker is set at
 * the first commit into it and once more at `close` if entered again since, instead of once per
 * commit. Checked against the DynamoDB commands the markers send (a fake client records them).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CandidateMarkers, MarkerBatch } from '../../shared/adapters/dynamodb/candidate-markers';

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

test('without a batch every commit sets its marker (no lag margin, as on the local stack)', async () => {
  const { sets, markers } = recordingMarkers();
  for (let i = 0; i < 3; i++) await markers.noteEntered([amd64(i)]);
  expect(sets).toEqual(['Worker#amd64', 'Worker#amd64', 'Worker#amd64']);
});
