/**
 * ExpiryStore on the main table (docs/data-model.md, "Expiry"). Every read is a Query of one
 * partition or a GetItem: the expiry index (gsi3 `EXP#<hour>`), the bucket list (`EXPBUCKETS`), an
 * artifact's own partition (files, input pins `W#…`), its incoming relations (gsi1 `RELTO#`), the
 * collection items linking it (gsi1 `ARTLINKS#`), the file rows holding some bytes (gsi2
 * `BLOBREF#`), blob rows and the candidate list (`BLOBCAND`). No Scan.
 */
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BlobRow } from '../../domain/blob-gc';
import type { RetainingLink, WorkRequestInputs } from '../../domain/expiry';
import type { ArtifactWithFiles, Page } from '../../ports';
import type { DynamoArtifactRepository } from './artifact-repository';
import type { ArtifactExpiryState, BlobRef, ExpiringArtifact, ExpiryStore } from '../../ports/expiry';
import { attempt } from './errors';
import { DynamoItemRetentionStore } from './item-retention-store';
import { DynamoTokenExpiryStore } from './token-expiry-store';
import { DynamoWorkRequestExpiryStore } from './work-request-expiry-store';
import { itemReferenceMarkers, writeLegacyRootExpiryEntry } from './work-request-expiry-keys';
import { toWorkRequest } from './work-request-repository';
import { tokenExpiryIndex } from './identity-repository';
import { artifactLinkIndex, itemRetentionIndex } from './collection-repository';
import { EXPIRY_BUCKETS_PK, EXPIRY_READY_KEY, ExpiryBucketList, markExpiryIndexReady, blobReferenceIndex, blobReferencePk, expiryIndexAttributes, expiryIndexPk } from './expiry-keys';
import { GSI2, GSI3, keys } from './keys';
import { batchDelete, firstInIndex, decodeCursor, encodeCursor, type Item, names, scanPages } from './support';
import { DynamoWorkspaceExpiryStore } from './workspace-expiry-store';
import { DynamoRetentionGraph, artifactLinkRows, artifactPartitionItems } from './retention-graph';

/**
 * The artifact repository's row-level reads and deletes the expiry store builds on (the
 * repository passes itself; a structural type keeps the two files from importing each other).
 */
export interface ArtifactRows {
  getForExpiry(id: number): Promise<(ArtifactWithFiles & { condemnedAt: string | null }) | undefined>;
  deleteRemains(id: number, own: Item[]): Promise<void>;
  blobRow(sha256: string, size: number): Promise<BlobRow | undefined>;
}

export const BLOB_CANDIDATES_PK = 'BLOBCAND';
/** Written once an installation's items all carry the expiry indexes (fresh, or after the backfill). */
export { EXPIRY_READY_KEY } from './expiry-keys';

/** What the store needs of the artifact repository (which builds the store: an interface, not its class, keeps the two from importing each other). */
export interface ArtifactRowsForExpiry {
  getForExpiry(id: number): Promise<(ArtifactWithFiles & { condemnedAt: string | null }) | undefined>;
  deleteRemains(id: number, own: Item[]): Promise<void>;
  blobRow(sha256: string, size: number): Promise<BlobRow | undefined>;
}

export class DynamoExpiryStore implements ExpiryStore {
  private readonly buckets: ExpiryBucketList;
  readonly items: DynamoItemRetentionStore;
  readonly tokens: DynamoTokenExpiryStore;
  readonly workRequests: DynamoWorkRequestExpiryStore;
  readonly workspaces: DynamoWorkspaceExpiryStore;
  private readonly graph: DynamoRetentionGraph;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly artifacts: ArtifactRowsForExpiry,
  ) {
    this.buckets = new ExpiryBucketList(doc, tableName);
    this.items = new DynamoItemRetentionStore(doc, tableName);
    this.tokens = new DynamoTokenExpiryStore(doc, tableName);
    this.workRequests = new DynamoWorkRequestExpiryStore(doc, tableName);
    this.workspaces = new DynamoWorkspaceExpiryStore(doc, tableName);
    this.graph = new DynamoRetentionGraph(doc, tableName, artifacts);
  }

  /**
   * Whether every file row carries the blob reference index (without it a blob could look unused).
   * Ready once marked: by the creation of artifact 1 (DynamoArtifactRepository.create), by the
   * first pass on a table where no artifact was ever created, or by the backfill. A table whose
   * artifacts predate expiry (sequence without marker) waits for the backfill.
   */
  async indexReady(): Promise<boolean> {
    const marker = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: EXPIRY_READY_KEY, ConsistentRead: true }));
    if (marker.Item) return true;
    const sequence = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.sequence('artifact'), ConsistentRead: true }));
    if (sequence.Item) return false;
    await this.markIndexReady();
    return true;
  }

  /**
   * One-off, for tables written before expiry existed (`conveyor admin expire --backfill`): a Scan
   * (the one place that reads the whole table: an admin command, once) that gives artifacts their
   * expiry-index entry, file rows their blob-reference entry and collection items their artifact
   * link entry, then marks the table ready. Safe to run again (it only fills what is missing).
   */
  async backfill(): Promise<{ artifacts: number; files: number; items: number }> {
    const counts = { artifacts: 0, files: 0, items: 0 };
    const pages = scanPages(this.doc, {
      TableName: this.tableName,
      FilterExpression: '#entity IN (:artifact, :file, :item, :token, :workRequest)',
      ExpressionAttributeNames: names('entity'),
      ExpressionAttributeValues: { ':artifact': 'artifact', ':file': 'file', ':item': 'collection-item', ':token': 'token', ':workRequest': 'workRequest' },
    });
    for await (const page of pages) {
      for (const item of page) {
        // Finished roots enter the work-request expiry index; workflows' items get their reference markers.
        if (item.entity === 'workRequest') await writeLegacyRootExpiryEntry(this.doc, this.tableName, toWorkRequest(item), item.gsi3pk);
        if (item.entity === 'collection-item') {
          const markers = itemReferenceMarkers({ collectionId: Number(item.collectionId), id: Number(item.id), createdBy: String(item.createdBy), removedBy: typeof item.removedBy === 'string' ? item.removedBy : null });
          for (const marker of markers) await this.doc.send(new PutCommand({ TableName: this.tableName, Item: marker }));
        }
        let set: Item | undefined;
        if (item.entity === 'artifact' && item.gsi3pk === undefined && typeof item.expireAt === 'string') {
          const index = expiryIndexAttributes({ id: Number(item.id), expireAt: item.expireAt })!;
          await this.buckets.ensure(index.bucket);
          set = { gsi3pk: index.gsi3pk, gsi3sk: index.gsi3sk };
          counts.artifacts++;
        } else if (item.entity === 'file' && item.gsi2pk === undefined) {
          set = blobReferenceIndex(Number(item.artifactId), { path: String(item.path), sha256: String(item.sha256), size: Number(item.size) });
          counts.files++;
        } else if (item.entity === 'token' && item.gsi3pk === undefined && typeof item.expireAt === 'string') {
          set = tokenExpiryIndex({ hash: String(item.hash), id: String(item.id), expireAt: item.expireAt });
          counts.items++;
        } else if (item.entity === 'collection-item') {
          const ids = { collectionId: Number(item.collectionId), id: Number(item.id) };
          const link = item.gsi1pk === undefined && item.artifactId !== undefined ? artifactLinkIndex({ ...ids, artifactId: Number(item.artifactId) }) : {};
          // A removed item enters the retention index at its removal time (the pass moves it on).
          const retention = item.gsi3pk === undefined && typeof item.removedAt === 'string' ? itemRetentionIndex(ids, item.removedAt) : {};
          if (Object.keys(link).length + Object.keys(retention).length > 0) {
            set = { ...link, ...retention };
            counts.items++;
          }
        }
        if (!set) continue;
        const attrs = Object.keys(set);
        await attempt(() =>
          this.doc.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: { pk: item.pk, sk: item.sk },
              UpdateExpression: `SET ${attrs.map((a) => `#${a} = :${a}`).join(', ')}`,
              ConditionExpression: 'attribute_exists(#pk)',
              ExpressionAttributeNames: names('pk', ...attrs),
              ExpressionAttributeValues: Object.fromEntries(attrs.map((a) => [`:${a}`, set![a]])),
            }),
          ),
        );
      }
    }
    await this.markIndexReady();
    return counts;
  }

  async markIndexReady(): Promise<void> {
    await markExpiryIndexReady(this.doc, this.tableName);
  }

  // --- the expiry index -----------------------------------------------------------------------

  async expiryBuckets(upToBucket: string, limit: number): Promise<string[]> {
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND #sk <= :upTo',
        ExpressionAttributeNames: names('pk', 'sk'),
        ExpressionAttributeValues: { ':pk': EXPIRY_BUCKETS_PK, ':upTo': upToBucket },
        ConsistentRead: true,
        Limit: limit,
      }),
    );
    return (res.Items ?? []).map((i) => String(i.sk));
  }

  async dropExpiryBucket(bucket: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: EXPIRY_BUCKETS_PK, sk: bucket } }));
  }

  async expiringArtifacts(bucket: string, upTo: string, limit: number, cursor?: string): Promise<Page<ExpiringArtifact>> {
    const keyNames = ['pk', 'sk', 'gsi3pk', 'gsi3sk'];
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: GSI3,
        KeyConditionExpression: '#gsi3pk = :pk AND #gsi3sk <= :upTo',
        ProjectionExpression: '#pk, #sk, #gsi3pk, #gsi3sk, #id',
        ExpressionAttributeNames: names('pk', 'sk', 'gsi3pk', 'gsi3sk', 'id'),
        // `<time>#<id16>`: every entry of that time sorts below `<time>#~`.
        ExpressionAttributeValues: { ':pk': expiryIndexPk(bucket), ':upTo': `${upTo}#~` },
        Limit: limit,
        ...(cursor ? { ExclusiveStartKey: decodeCursor(cursor, keyNames) } : {}),
      }),
    );
    return {
      items: (res.Items ?? []).map((i) => ({ id: Number(i.id), expireAt: String(i.gsi3sk).split('#')[0]! })),
      next: res.LastEvaluatedKey ? encodeCursor(res.LastEvaluatedKey as Item) : undefined,
    };
  }

  async postponeCheck(id: number, until: string): Promise<void> {
    const index = expiryIndexAttributes({ id, expireAt: until })!;
    await this.buckets.ensure(index.bucket);
    await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.artifact(id),
          UpdateExpression: 'SET #gsi3pk = :pk, #gsi3sk = :sk',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: names('pk', 'gsi3pk', 'gsi3sk'),
          ExpressionAttributeValues: { ':pk': index.gsi3pk, ':sk': index.gsi3sk },
        }),
      ),
    );
  }

  // --- facts about one artifact ---------------------------------------------------------------

  artifactState(id: number): Promise<ArtifactExpiryState | undefined> {
    return this.graph.artifactState(id);
  }

  retainingLinks(artifactId: number): Promise<RetainingLink[]> {
    return this.graph.retainingLinks(artifactId);
  }

  workRequestInputs(artifactId: number): Promise<WorkRequestInputs[]> {
    return this.graph.workRequestInputs(artifactId);
  }

  // --- condemn, reprieve, delete --------------------------------------------------------------

  async condemnArtifact(id: number, version: number, at: string): Promise<boolean> {
    const outcome = await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.artifact(id),
          UpdateExpression: 'SET #condemnedAt = :at',
          ConditionExpression: 'attribute_exists(#pk) AND #version = :version AND attribute_not_exists(#condemnedAt)',
          ExpressionAttributeNames: names('pk', 'version', 'condemnedAt'),
          ExpressionAttributeValues: { ':at': at, ':version': version },
        }),
      ),
    );
    return outcome.ok;
  }

  async reprieveArtifact(id: number, condemnedAt: string): Promise<boolean> {
    const outcome = await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.artifact(id),
          UpdateExpression: 'REMOVE #condemnedAt',
          ConditionExpression: '#condemnedAt = :at',
          ExpressionAttributeNames: names('condemnedAt'),
          ExpressionAttributeValues: { ':at': condemnedAt },
        }),
      ),
    );
    return outcome.ok;
  }

  /**
   * The artifact item first (conditional on the condemnation: from then on nothing can attach to
   * it), then its partition (files, relations from it, input pins), relations to it, and the links
   * of collection items to it. A crash in between leaves invisible rows, as a plain delete does;
   * their blob references keep the bytes (the safe side).
   */
  async deleteCondemnedArtifact(id: number, condemnedAt: string): Promise<{ blobs: BlobRef[] } | undefined> {
    const own = await this.ownItems(id);
    const outcome = await attempt(() =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.artifact(id),
          ConditionExpression: '#condemnedAt = :at',
          ExpressionAttributeNames: names('condemnedAt'),
          ExpressionAttributeValues: { ':at': condemnedAt },
        }),
      ),
    );
    if (!outcome.ok) return undefined;
    await this.artifacts.deleteRemains(id, own.filter((i) => i.sk !== 'A'));
    await this.unlinkCollectionItems(id);
    const blobs = own.filter((i) => i.entity === 'file').map((f) => ({ sha256: String(f.sha256), size: Number(f.size) }));
    return { blobs };
  }

  private ownItems(id: number): Promise<Item[]> {
    return artifactPartitionItems(this.doc, this.tableName, id);
  }

  private linkRows(artifactId: number): Promise<Item[]> {
    return artifactLinkRows(this.doc, this.tableName, artifactId);
  }

  /** Items keep their metadata; their link to the deleted artifact goes (history row and active row). */
  private async unlinkCollectionItems(artifactId: number): Promise<void> {
    const rows = await this.linkRows(artifactId);
    for (const row of rows) {
      const unlink = (key: { pk: string; sk: string }, condition: string, values: Record<string, unknown>) =>
        attempt(() =>
          this.doc.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: key,
              UpdateExpression: 'REMOVE #artifactId, #gsi1pk, #gsi1sk',
              ConditionExpression: condition,
              ExpressionAttributeNames: names('artifactId', 'gsi1pk', 'gsi1sk', ...(values[':id'] !== undefined ? ['id'] : [])),
              ExpressionAttributeValues: values,
            }),
          ),
        );
      await unlink({ pk: String(row.pk), sk: String(row.sk) }, '#artifactId = :artifact', { ':artifact': artifactId });
      if (row.removedAt === undefined) {
        await unlink(keys.activeItem(Number(row.collectionId), String(row.name)), '#artifactId = :artifact AND #id = :id', {
          ':artifact': artifactId,
          ':id': Number(row.id),
        });
      }
    }
  }

  // --- blobs ----------------------------------------------------------------------------------

  async addBlobCandidates(blobs: BlobRef[], at: string): Promise<void> {
    for (const blob of blobs) {
      await attempt(() =>
        this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { pk: BLOB_CANDIDATES_PK, sk: candidateSk(blob), entity: 'blob-candidate', sha256: blob.sha256, size: blob.size, since: at },
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: names('pk'),
          }),
        ),
      );
    }
  }

  async blobCandidates(limit: number): Promise<{ blob: BlobRef; since: string }[]> {
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: names('pk'),
        ExpressionAttributeValues: { ':pk': BLOB_CANDIDATES_PK },
        ConsistentRead: true,
        Limit: limit,
      }),
    );
    return (res.Items ?? []).map((i) => ({ blob: { sha256: String(i.sha256), size: Number(i.size) }, since: String(i.since) }));
  }

  async dropBlobCandidate(blob: BlobRef): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: BLOB_CANDIDATES_PK, sk: candidateSk(blob) } }));
  }

  async blobRow(blob: BlobRef): Promise<BlobRow | undefined> {
    return this.artifacts.blobRow(blob.sha256, blob.size);
  }

  /** gsi2 `BLOBREF#…`, Limit 1. Eventually consistent: the grace period covers index lag. */
  async blobReferenced(blob: BlobRef): Promise<boolean> {
    return (await firstInIndex(this.doc, this.tableName, GSI2, blobReferencePk(blob.sha256, blob.size))) !== undefined;
  }

  async setBlobRow(blob: BlobRef, from: BlobRow, to: BlobRow | undefined): Promise<boolean> {
    const key = keys.blob(blob.sha256, blob.size);
    // Rows from before expiry have no state: `stored` matches them too.
    const stateMatches = from.state === 'stored' ? '(#state = :from OR attribute_not_exists(#state))' : '#state = :from';
    const condemnedMatches = from.condemnedAt === undefined ? 'attribute_not_exists(#condemnedAt)' : '#condemnedAt = :condemnedAt';
    const condition = `attribute_exists(#pk) AND ${stateMatches} AND ${condemnedMatches}`;
    const values: Record<string, unknown> = { ':from': from.state, ...(from.condemnedAt === undefined ? {} : { ':condemnedAt': from.condemnedAt }) };
    const outcome = await attempt(() =>
      this.doc.send(
        to
          ? new UpdateCommand({
              TableName: this.tableName,
              Key: key,
              UpdateExpression: to.condemnedAt === undefined ? 'SET #state = :to REMOVE #condemnedAt' : 'SET #state = :to, #condemnedAt = :newCondemnedAt',
              ConditionExpression: condition,
              ExpressionAttributeNames: names('pk', 'state', 'condemnedAt'),
              ExpressionAttributeValues: { ...values, ':to': to.state, ...(to.condemnedAt === undefined ? {} : { ':newCondemnedAt': to.condemnedAt }) },
            })
          : new DeleteCommand({
              TableName: this.tableName,
              Key: key,
              ConditionExpression: condition,
              ExpressionAttributeNames: names('pk', 'state', 'condemnedAt'),
              ExpressionAttributeValues: values,
            }),
      ),
    );
    return outcome.ok;
  }
}

function candidateSk(blob: BlobRef): string {
  return `${blob.sha256}-${blob.size}`;
}

/**
 * The expiry pass's view of an artifact repository's table. A function of its own (not a method of
 * the repository) so that functions that only use artifacts do not bundle the expiry store.
 */
export function dynamoExpiryStore(artifacts: DynamoArtifactRepository): DynamoExpiryStore {
  return new DynamoExpiryStore(artifacts.doc, artifacts.tableName, artifacts);
}
