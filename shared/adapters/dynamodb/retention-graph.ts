/**
 * The facts about one artifact that decide whether it may expire (its state, the collections that
 * retain it, the requests that read it), read on their own by the single-artifact view
 * (`artifactRetention`) and within the expiry passes (DynamoExpiryStore). Kept apart from the
 * expiry store so that the artifacts API bundles these three reads, not the whole store with its
 * work-request, workspace, token and item expiry (the 300 KB bundle budget of issue 12).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RetainingLink, WorkRequestInputs } from '../../domain/expiry';
import type { WorkRequestStatus } from '../../domain/work-requests';
import type { ArtifactExpiryState, RetentionGraphReader } from '../../ports/expiry';
import { INPUT_PINS } from './expiry-pins';
import { GSI1, artifactPk, keys } from './keys';
import { batchGet, type Item, names, queryAll } from './support';

/** Everything in the artifact's partition (item, files, relations from it, input pins), consistently. */
export function artifactPartitionItems(doc: DynamoDBDocumentClient, tableName: string, id: number): Promise<Item[]> {
  return queryAll(doc, {
    TableName: tableName,
    KeyConditionExpression: '#pk = :pk',
    ExpressionAttributeNames: names('pk'),
    ExpressionAttributeValues: { ':pk': artifactPk(id) },
    ConsistentRead: true,
  });
}

/** History rows of collection items that link the artifact (gsi1 `ARTLINKS#<id>`). */
export function artifactLinkRows(doc: DynamoDBDocumentClient, tableName: string, artifactId: number): Promise<Item[]> {
  return queryAll(doc, {
    TableName: tableName,
    IndexName: GSI1,
    KeyConditionExpression: '#gsi1pk = :pk',
    ExpressionAttributeNames: names('gsi1pk'),
    ExpressionAttributeValues: { ':pk': `ARTLINKS#${artifactId}` },
  });
}

export class DynamoRetentionGraph implements RetentionGraphReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly artifacts: { getForExpiry(id: number): Promise<ArtifactExpiryState | undefined> },
  ) {}

  artifactState(id: number): Promise<ArtifactExpiryState | undefined> {
    return this.artifacts.getForExpiry(id);
  }

  async retainingLinks(artifactId: number): Promise<RetainingLink[]> {
    const rows = await artifactLinkRows(this.doc, this.tableName, artifactId);
    const collectionIds = [...new Set(rows.filter((r) => r.artifactId === artifactId).map((r) => Number(r.collectionId)))];
    const collections = await batchGet(this.doc, this.tableName, collectionIds.map((c) => keys.collection(c)), { consistent: true });
    const workflowIds = [...new Set(collections.flatMap((c) => (c.workflowId === undefined || c.workflowId === null ? [] : [Number(c.workflowId)])))];
    const workflows = await batchGet(this.doc, this.tableName, workflowIds.map((w) => keys.workRequest(w)), { consistent: true });
    const statusOf = new Map(workflows.map((w) => [Number(w.id), String(w.status) as WorkRequestStatus]));
    return collections.map((c) => {
      const workflowId = c.workflowId === undefined || c.workflowId === null ? null : Number(c.workflowId);
      return {
        artifactId,
        collectionId: Number(c.id),
        retains: c.retainsArtifacts,
        workflowId,
        workflowStatus: workflowId === null ? null : (statusOf.get(workflowId) ?? null),
      };
    });
  }

  async workRequestInputs(artifactId: number): Promise<WorkRequestInputs[]> {
    const pins = (await artifactPartitionItems(this.doc, this.tableName, artifactId)).filter((i) => String(i.sk).startsWith(INPUT_PINS));
    const requests = await batchGet(this.doc, this.tableName, pins.map((p) => keys.workRequest(Number(p.workRequestId))), { consistent: true });
    return requests.map((wr) => ({ workRequestId: Number(wr.id), status: String(wr.status) as WorkRequestStatus, artifactIds: [artifactId] }));
  }
}
