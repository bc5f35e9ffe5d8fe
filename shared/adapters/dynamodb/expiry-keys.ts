/**
 * The expiry index in the main table (docs/data-model.md, "Expiry"):
 * - an artifact with an `expireAt` carries gsi3 `EXP#<yyyy-mm-ddThh>` / `<check time>#<id16>`
 *   (its expiry hour bucket; a pass that finds it kept moves the entry to a later bucket);
 * - `EXPBUCKETS` / `<bucket>` lists the buckets that hold entries, written before the entry, so a
 *   pass reads exactly the non-empty buckets that are due and never walks empty hours.
 */
import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { blobKey, type Artifact } from '../../domain/artifacts';
import type { BlobRow } from '../../domain/blob-gc';
import { expiryBucket } from '../../domain/expiry';
import { attempt } from './errors';
import { padId } from './keys';
import { type Item, names } from './support';

export const EXPIRY_BUCKETS_PK = 'EXPBUCKETS';

export function expiryIndexPk(bucket: string): string {
  return `EXP#${bucket}`;
}

export function expiryIndexSk(checkAt: string, id: number): string {
  return `${new Date(checkAt).toISOString()}#${padId(id)}`;
}

/** The gsi3 attributes of an artifact item, or undefined when it never expires. */
export function expiryIndexAttributes(a: Pick<Artifact, 'id' | 'expireAt'>, checkAt = a.expireAt) {
  if (!checkAt) return undefined;
  const bucket = expiryBucket(checkAt);
  return { bucket, gsi3pk: expiryIndexPk(bucket), gsi3sk: expiryIndexSk(checkAt, a.id) };
}

/**
 * gsi2 of every file row, complete or not, in any workspace: `BLOBREF#<sha256>-<size>` /
 * `<artifact16>#<sha256 of path>`. One Query (Limit 1) tells whether any file row still needs the bytes.
 */
export function blobReferencePk(sha256: string, size: number): string {
  return `BLOBREF#${blobKey(sha256, size)}`;
}

export function blobReferenceIndex(artifactId: number, f: { path: string; sha256: string; size: number }): Item {
  // The path's hash keeps the key short whatever the path (keys are at most 1,024 bytes).
  return { gsi2pk: blobReferencePk(f.sha256, f.size), gsi2sk: `${padId(artifactId)}#${createHash('sha256').update(f.path, 'utf8').digest('hex')}` };
}

export function toBlobRow(item: Item): BlobRow {
  // Rows written before expiry existed have no state: they were written after the copy, so stored.
  const row: BlobRow = { state: item.state ?? 'stored' };
  if (item.condemnedAt !== undefined) row.condemnedAt = item.condemnedAt;
  return row;
}

/**
 * Records buckets in `EXPBUCKETS` (PutItem; an existing one is left alone). Current and future
 * buckets are remembered per process (a pass drops only buckets well in the past); a past bucket
 * (rare: an expire_at set back) is written every time.
 */
export class ExpiryBucketList {
  private readonly known = new Set<string>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async ensure(bucket: string): Promise<void> {
    const current = bucket >= expiryBucket(this.now().toISOString());
    if (current && this.known.has(bucket)) return;
    await attempt(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: EXPIRY_BUCKETS_PK, sk: bucket, entity: 'expiry-bucket' },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: names('pk'),
        }),
      ),
    );
    if (current) this.known.add(bucket);
  }
}

/** The marker saying every artifact, file row and collection item of the table carries its expiry-index entry. */
export const EXPIRY_READY_KEY = { pk: 'META', sk: 'expiry-index' };

export async function markExpiryIndexReady(doc: DynamoDBDocumentClient, tableName: string): Promise<void> {
  await doc.send(new PutCommand({ TableName: tableName, Item: { ...EXPIRY_READY_KEY, entity: 'meta', version: 1 } }));
}
