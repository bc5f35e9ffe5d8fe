/**
 * Input pins: `ART#<artifact>` / `W#<workRequest16>`, one per artifact a work request reads,
 * written before the request itself (so a request never exists without its pins). The expiry pass
 * reads an artifact's pins (one Query of its own partition) and keeps it while one of those requests
 * is pending, blocked or running. Pins of finished requests are harmless left-overs; they go with
 * the artifact.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isActiveStatus } from '../../domain/expiry';
import type { WorkRequest } from '../../domain/work-requests';
import { inputArtifactsOf } from '../../tasks/inputs';
import { artifactPk, padId } from './keys';

export const INPUT_PINS = 'W#';

export function inputPinKey(artifactId: number, workRequestId: number) {
  return { pk: artifactPk(artifactId), sk: `${INPUT_PINS}${padId(workRequestId)}` };
}

/** Writes the pins of the active requests among `requests` (idempotent PutItems, 25 a batch). */
export async function writeInputPins(doc: DynamoDBDocumentClient, tableName: string, requests: WorkRequest[]): Promise<void> {
  const puts = requests
    .filter((wr) => isActiveStatus(wr.status))
    .flatMap((wr) => [...new Set(inputArtifactsOf(wr))].map((a) => ({ ...inputPinKey(a, wr.id), entity: 'inputPin', artifactId: a, workRequestId: wr.id })));
  for (let i = 0; i < puts.length; i += 25) {
    let pending: Record<string, unknown>[] = puts.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let round = 0; pending.length && round < 8; round++) {
      const res = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending as never } }));
      pending = (res.UnprocessedItems?.[tableName] ?? []) as Record<string, unknown>[];
    }
    if (pending.length) throw new Error('input pins: DynamoDB left writes unprocessed; try again');
  }
}
