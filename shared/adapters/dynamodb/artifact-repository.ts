/**
 * Artifacts, their file rows, relations and the blob registry in the main table.
 * Layout, access patterns and crash windows: docs/data-model.md.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { blobKey, type Artifact, type ArtifactRelation } from '../../domain/artifacts';
import { pickFields } from '../../domain/fields';
import { blobClaimable, uploadClaim, type BlobRow } from '../../domain/blob-gc';
import { BlobNotClaimableError, ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import type { ArtifactListFilter, ArtifactRepository, ArtifactWithFiles, FileUploadState, Page, RelationEnd, StoredFile, VerifiedUpload } from '../../ports';
import { attempt, failedAt, firstFailure, versionedWriteError } from './errors';
import { ExpiryBucketList, blobReferenceIndex, markExpiryIndexReady, expiryIndexAttributes, toBlobRow } from './expiry-keys';
import { GSI1, GSI2, RELATIONS_FROM, artifactPk, fileSk, indexKeys, keys, padId, timeKey } from './keys';
import { batchDelete, checkLimit, firstInIndex, compact, decodeCursor, encodeCursor, type Item, names, pick, queryAll, queryPage, queryPartition } from './support';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** TransactWriteItems takes at most 100 items. */
const TRANSACTION_ITEMS = 100;
/** Most files one artifact may have (a create of more is refused). */
export const MAX_FILES_PER_ARTIFACT = 10_000;
/** Queries one `list` call may spend on a selective `createdBy` filter before it returns a short page. */
const LIST_QUERY_BUDGET = 10;
/** Index entries `blobVisibleInWorkspace` checks before answering false (each left-over entry costs a read). */
const BLOB_PROBES = 20;

/**
 * Condition of every change to an artifact item through the API. An artifact an expiry pass
 * condemned is frozen (shared/app/expiry.ts): nothing may change it until it is deleted or reprieved.
 */
const VERSIONED_MUTABLE = 'attribute_exists(#pk) AND #version = :expected AND #immutable = :false AND attribute_not_exists(#condemnedAt)';
/** A blob row that may be claimed without an upload (rows written before expiry existed have no state). */
const BLOB_CLAIMABLE = '#state = :stored OR (attribute_exists(#pk) AND attribute_not_exists(#state))';

export class DynamoArtifactRepository implements ArtifactRepository {
  /** Buckets of the expiry index in use (written before the entries, cached per process). */
  private readonly expiryBuckets: ExpiryBucketList;

  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {
    this.expiryBuckets = new ExpiryBucketList(doc, tableName);
  }

  // --- artifacts ----------------------------------------------------------------------------

  /**
   * Up to 99 files: one transaction (artifact item conditioned on `attribute_not_exists`, file
   * rows). More: file rows first, in transactions of 99 rows plus a ConditionCheck that the
   * artifact does not exist, then the artifact item alone, so the artifact only becomes
   * visible once complete.
   */
  async create(artifact: Artifact, files: StoredFile[]): Promise<void> {
    if (files.length > MAX_FILES_PER_ARTIFACT) {
      throw ValidationError.field('files', `an artifact may have at most ${MAX_FILES_PER_ARTIFACT} files`);
    }
    const seen = new Set<string>();
    for (const f of files) {
      if (seen.has(fileSk(f.path))) throw ValidationError.field('files', `duplicate file path "${f.path}"`);
      seen.add(fileSk(f.path));
    }
    const incomplete = files.filter((f) => !f.complete).length;
    if (artifact.incompleteFiles !== incomplete) {
      throw new Error(`artifact ${artifact.id}: incompleteFiles is ${artifact.incompleteFiles} but ${incomplete} files are incomplete`);
    }
    const exists = () => new ConflictError('Artifact exists', `artifact ${artifact.id} already exists`);
    const artifactPut = {
      TableName: this.tableName,
      Item: artifactItem(artifact),
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: names('pk'),
    };
    const rows: TransactItem[] = files.map((f) => ({ Put: { TableName: this.tableName, Item: fileItem(artifact, f) } }));
    // A file complete without an upload claims stored bytes: only while the blob is `stored`
    // (shared/domain/blob-gc.ts). One check per distinct blob (a transaction touches an item once).
    const claimed = new Map(files.filter((f) => f.complete).map((f) => [blobKey(f.sha256, f.size), f]));
    const claims: TransactItem[] = [...claimed.values()].map((f) => ({
      ConditionCheck: {
        TableName: this.tableName,
        Key: keys.blob(f.sha256, f.size),
        ConditionExpression: BLOB_CLAIMABLE,
        ExpressionAttributeNames: names('pk', 'state'),
        ExpressionAttributeValues: { ':stored': 'stored' },
      },
    }));
    const claimFailure = (outcome: Awaited<ReturnType<typeof attempt>>, offset: number) => {
      const failure = firstFailure(outcome);
      if (failure && failure.index >= offset) return new BlobNotClaimableError([...claimed.values()][failure.index - offset]!.path);
      return undefined;
    };
    // The installation's first artifact is written by code that indexes everything it writes: the
    // table needs no backfill, whenever the first pass runs (it used to decide lazily, and an
    // artifact created before the first pass left the pass waiting for a backfill forever).
    if (artifact.id === 1) await markExpiryIndexReady(this.doc, this.tableName);
    const index = expiryIndexAttributes(artifact);
    if (index) await this.expiryBuckets.ensure(index.bucket);

    if (rows.length + claims.length < TRANSACTION_ITEMS) {
      const outcome = await attempt(() => this.transact([{ Put: artifactPut }, ...rows, ...claims]));
      if (!outcome.ok) throw claimFailure(outcome, 1 + rows.length) ?? exists();
      return;
    }
    // Many files: the claims are checked once more with the artifact item, below.
    for (let i = 0; i < claims.length; i += TRANSACTION_ITEMS) {
      const outcome = await attempt(() => this.transact(claims.slice(i, i + TRANSACTION_ITEMS)));
      if (!outcome.ok) throw claimFailure(outcome, -i)!;
    }
    const absent: TransactItem = {
      ConditionCheck: {
        TableName: this.tableName,
        Key: keys.artifact(artifact.id),
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: names('pk'),
      },
    };
    for (let i = 0; i < rows.length; i += TRANSACTION_ITEMS - 1) {
      const outcome = await attempt(() => this.transact([absent, ...rows.slice(i, i + TRANSACTION_ITEMS - 1)]));
      if (!outcome.ok) throw exists();
    }
    const outcome = await attempt(() => this.doc.send(new PutCommand(artifactPut)));
    if (!outcome.ok) throw exists();
  }


  /** One Query on the artifact's partition: the artifact item and its file rows (sort keys below `R#`). */
  async get(id: number): Promise<ArtifactWithFiles | undefined> {
    const found = await this.getForExpiry(id);
    return found && { artifact: found.artifact, files: found.files };
  }

  /** `get`, plus whether an expiry pass condemned the artifact (the same single Query). */
  async getForExpiry(id: number): Promise<(ArtifactWithFiles & { condemnedAt: string | null }) | undefined> {
    const items = await queryPartition(this.doc, this.tableName, artifactPk(id), { before: RELATIONS_FROM });
    const item = items.find((i) => i.entity === 'artifact');
    if (!item) return undefined;
    const files = items
      .filter((i) => i.entity === 'file')
      .map(toStoredFile)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { artifact: toArtifact(item), files, condemnedAt: typeof item.condemnedAt === 'string' ? item.condemnedAt : null };
  }

  /**
   * Newest first from gsi1 (`WSART#<scope>#<ws>`) or, with a category, gsi2
   * (`WSCAT#<scope>#<ws>#<category>`). `createdBy` is a FilterExpression: a page is filled by
   * further queries, up to a budget, so a selective filter may return a short (even empty)
   * page that still has a `next` cursor.
   */
  async list(filter: ArtifactListFilter): Promise<Page<Artifact>> {
    checkLimit(filter.limit);
    const index = filter.category === undefined ? GSI1 : GSI2;
    const partition =
      filter.category === undefined
        ? indexKeys.workspaceArtifacts(filter.scope, filter.workspace)
        : indexKeys.workspaceCategory(filter.scope, filter.workspace, filter.category);
    const keyNames = ['pk', 'sk', `${index}pk`, `${index}sk`];
    let start: Record<string, string> | undefined;
    if (filter.cursor !== undefined) {
      start = decodeCursor(filter.cursor, keyNames);
      if (start[`${index}pk`] !== partition || start.sk !== 'A' || !start.pk?.startsWith('ART#')) {
        throw ValidationError.field('cursor', 'does not belong to this listing (workspace and filters must stay the same)');
      }
    }
    const base: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: index,
      KeyConditionExpression: `#${index}pk = :pk`,
      ExpressionAttributeNames: names(`${index}pk`),
      ExpressionAttributeValues: { ':pk': partition },
      ScanIndexForward: false,
    };
    if (filter.createdBy !== undefined) {
      base.FilterExpression = '#createdBy = :createdBy';
      base.ExpressionAttributeNames = names(`${index}pk`, 'createdBy');
      base.ExpressionAttributeValues = { ':pk': partition, ':createdBy': filter.createdBy };
    }
    const found: Item[] = [];
    for (let round = 0; round < LIST_QUERY_BUDGET; round++) {
      const need = filter.limit - found.length;
      // One more than needed tells whether another page exists; a filter reads wider pages.
      const limit = filter.createdBy === undefined ? need + 1 : Math.max(need + 1, 100);
      const res = await this.doc.send(new QueryCommand({ ...base, Limit: limit, ...(start ? { ExclusiveStartKey: start } : {}) }));
      found.push(...(res.Items ?? []));
      if (found.length > filter.limit) {
        const page = found.slice(0, filter.limit);
        return { items: page.map(toArtifact), next: encodeCursor(pick(page[page.length - 1]!, keyNames)) };
      }
      if (!res.LastEvaluatedKey) return { items: found.map(toArtifact) };
      start = res.LastEvaluatedKey as Record<string, string>;
    }
    return { items: found.map(toArtifact), next: encodeCursor(pick(start as Item, keyNames)) };
  }

  /**
   * Sets data, immutable, expireAt and updatedAt, and version = expectedVersion + 1, if the stored
   * version is `expectedVersion` and the stored artifact is not immutable (this may be the call
   * that makes it immutable).
   */
  async update(artifact: Artifact, expectedVersion: number): Promise<void> {
    // The expiry index entry follows expireAt (a pass that postponed its check loses that: harmless).
    const index = expiryIndexAttributes(artifact);
    if (index) await this.expiryBuckets.ensure(index.bucket);
    const expiryNames = ['gsi3pk', 'gsi3sk'];
    const expiryUpdate = index ? ', #gsi3pk = :gsi3pk, #gsi3sk = :gsi3sk' : ' REMOVE #gsi3pk, #gsi3sk';
    const expiryValues = index ? { ':gsi3pk': index.gsi3pk, ':gsi3sk': index.gsi3sk } : {};
    const outcome = await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.artifact(artifact.id),
          UpdateExpression: `SET #dataJson = :data, #immutable = :immutable, #expireAt = :expireAt, #updatedAt = :updatedAt, #version = :next${expiryUpdate}`,
          ConditionExpression: VERSIONED_MUTABLE,
          ExpressionAttributeNames: names('pk', 'version', 'immutable', 'condemnedAt', 'dataJson', 'expireAt', 'updatedAt', ...expiryNames),
          ExpressionAttributeValues: {
            ':data': JSON.stringify(artifact.data ?? {}),
            ':immutable': artifact.immutable,
            ':expireAt': artifact.expireAt ?? null,
            ':updatedAt': artifact.updatedAt,
            ':expected': expectedVersion,
            ':next': expectedVersion + 1,
            ':false': false,
            ...expiryValues,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    const failed = failedAt(outcome);
    if (failed) throw versionedWriteError('artifact', failed.item, expectedVersion);
  }

  /** One transaction: the new file row (path must be free) and the artifact's version bump. */
  async attachFile(artifact: Artifact, expectedVersion: number, file: StoredFile): Promise<void> {
    const outcome = await attempt(() =>
      this.transact([
        {
          Put: {
            TableName: this.tableName,
            Item: fileItem(artifact, file),
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: names('pk'),
          },
        },
        this.bump(artifact, expectedVersion, file.complete ? 0 : 1),
      ]),
    );
    const artifactFailed = failedAt(outcome, 1);
    if (artifactFailed) throw versionedWriteError('artifact', artifactFailed.item, expectedVersion);
    if (failedAt(outcome, 0)) throw new ConflictError('File exists', `artifact ${artifact.id} already has a file "${file.path}"`);
  }

  /** One transaction: delete the row (if its completeness is still what the caller saw) and bump the artifact. */
  async removeFile(artifact: Artifact, expectedVersion: number, file: StoredFile): Promise<void> {
    const outcome = await attempt(() =>
      this.transact([
        {
          Delete: {
            TableName: this.tableName,
            Key: keys.file(artifact.id, file.path),
            ConditionExpression: 'attribute_exists(#pk) AND #complete = :complete',
            ExpressionAttributeNames: names('pk', 'complete'),
            ExpressionAttributeValues: { ':complete': file.complete },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        this.bump(artifact, expectedVersion, file.complete ? 0 : -1),
      ]),
    );
    const artifactFailed = failedAt(outcome, 1);
    if (artifactFailed) throw versionedWriteError('artifact', artifactFailed.item, expectedVersion);
    const fileFailed = failedAt(outcome, 0);
    if (fileFailed && !fileFailed.item) throw new NotFoundError('File not found', `artifact ${artifact.id} has no file "${file.path}"`);
    if (fileFailed) throw new ConflictError('File changed concurrently', `file "${file.path}" was completed meanwhile; reload and try again`);
  }

  /**
   * One transaction: the file row becomes complete (condition `complete = false`), enters the
   * workspace blob index and loses its upload state; the artifact's incomplete count drops by one;
   * the blob row must be `stored` (else BlobNotClaimableError: the caller copies the bytes again).
   */
  async completeFile(artifactId: number, path: string, at: string, verified: VerifiedUpload): Promise<boolean> {
    const outcome = await attempt(() =>
      this.transact([
        {
          Update: {
            TableName: this.tableName,
            Key: keys.file(artifactId, path),
            UpdateExpression: 'SET #complete = :true, #completedAt = :at, #gsi1pk = #wsBlobPk, #gsi1sk = #wsBlobSk REMOVE #upload',
            // Not only "incomplete": the row must still be the one whose bytes were verified. A row
            // deleted and attached again meanwhile (declaring someone else's SHA-256) must not be
            // completed by this verification, or it would hand out another workspace's blob.
            ConditionExpression: '#complete = :false AND #sha256 = :sha256 AND #size = :size AND #upload.#key = :uploadKey',
            ExpressionAttributeNames: names('complete', 'completedAt', 'gsi1pk', 'gsi1sk', 'wsBlobPk', 'wsBlobSk', 'upload', 'sha256', 'size', 'key'),
            ExpressionAttributeValues: {
              ':true': true,
              ':false': false,
              ':at': at,
              ':sha256': verified.sha256,
              ':size': verified.size,
              ':uploadKey': verified.uploadKey,
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        {
          Update: {
            TableName: this.tableName,
            Key: keys.artifact(artifactId),
            UpdateExpression: 'ADD #incompleteFiles :minusOne',
            ConditionExpression: 'attribute_exists(#pk)',
            ExpressionAttributeNames: names('pk', 'incompleteFiles'),
            ExpressionAttributeValues: { ':minusOne': -1 },
          },
        },
        // The bytes must be stored at this instant (a sweep may have condemned them since the
        // upload found them stored): the same claim as a create's complete file.
        {
          ConditionCheck: {
            TableName: this.tableName,
            Key: keys.blob(verified.sha256, verified.size),
            ConditionExpression: BLOB_CLAIMABLE,
            ExpressionAttributeNames: names('pk', 'state'),
            ExpressionAttributeValues: { ':stored': 'stored' },
          },
        },
      ]),
    );
    if (outcome.ok) return true;
    if (failedAt(outcome, 2)) throw new BlobNotClaimableError(path);
    const fileFailed = failedAt(outcome, 0);
    if (fileFailed?.item) return false; // already complete, or no longer the verified upload
    if (fileFailed) throw new NotFoundError('File not found', `artifact ${artifactId} has no file "${path}"`);
    throw new NotFoundError('Artifact not found', `artifact ${artifactId} does not exist`);
  }

  async setUploadState(artifactId: number, path: string, upload: FileUploadState | undefined): Promise<void> {
    const outcome = await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.file(artifactId, path),
          UpdateExpression: upload ? 'SET #upload = :upload' : 'REMOVE #upload',
          ConditionExpression: '#complete = :false',
          ExpressionAttributeNames: names('upload', 'complete'),
          ExpressionAttributeValues: upload ? { ':upload': compact(upload), ':false': false } : { ':false': false },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    const failed = failedAt(outcome);
    if (failed?.item) throw new ConflictError('File already complete', `file "${path}" of artifact ${artifactId} is already complete`);
    if (failed) throw new NotFoundError('File not found', `artifact ${artifactId} has no file "${path}"`);
  }

  /**
   * Deletes the artifact item first (conditioned on its version and on it not being immutable),
   * so that nothing can attach to it any more, then its file rows and every relation from it
   * (same partition) or to it (gsi1 `RELTO#<id>`).
   */
  async delete(artifact: Artifact): Promise<void> {
    const outcome = await attempt(() =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.artifact(artifact.id),
          ConditionExpression: VERSIONED_MUTABLE,
          ExpressionAttributeNames: names('pk', 'version', 'immutable', 'condemnedAt'),
          ExpressionAttributeValues: { ':expected': artifact.version, ':false': false },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    const failed = failedAt(outcome);
    if (failed) throw versionedWriteError('artifact', failed.item, artifact.version);
    const own = await queryAll(this.doc, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk',
      ProjectionExpression: '#pk, #sk',
      ExpressionAttributeNames: names('pk', 'sk'),
      ExpressionAttributeValues: { ':pk': artifactPk(artifact.id) },
      ConsistentRead: true,
    });
    await this.deleteRemains(artifact.id, own);
  }

  /**
   * After the artifact item is gone: the given rows of its partition and every relation to it
   * (gsi1 `RELTO#<id>`, eventually consistent: see docs/data-model.md, crash windows).
   */
  async deleteRemains(id: number, own: Item[]): Promise<void> {
    const incoming = await queryAll(this.doc, {
      TableName: this.tableName,
      IndexName: GSI1,
      KeyConditionExpression: '#gsi1pk = :pk',
      ProjectionExpression: '#pk, #sk',
      ExpressionAttributeNames: names('pk', 'sk', 'gsi1pk'),
      ExpressionAttributeValues: { ':pk': indexKeys.relationsTo(id) },
    });
    await batchDelete(
      this.doc,
      this.tableName,
      [...own, ...incoming].map((i) => ({ pk: String(i.pk), sk: String(i.sk) })),
    );
  }

  /**
   * A Query (Limit 1) on the sparse index of complete file rows (gsi1 `WSBLOB#...`). A hit counts
   * only if its artifact item exists: rows left by an interrupted create or delete never make
   * bytes visible.
   */
  async blobVisibleInWorkspace(scope: string, workspace: string, sha256: string, size: number): Promise<boolean> {
    let start: Record<string, unknown> | undefined;
    for (let probe = 0; probe < BLOB_PROBES; probe++) {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: GSI1,
          KeyConditionExpression: '#gsi1pk = :pk',
          ExpressionAttributeNames: names('gsi1pk'),
          ExpressionAttributeValues: { ':pk': indexKeys.workspaceBlob(scope, workspace, sha256, size) },
          Limit: 1,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      const hit = res.Items?.[0];
      if (hit) {
        const owner = await this.doc.send(
          new GetCommand({
            TableName: this.tableName,
            Key: { pk: String(hit.pk), sk: 'A' },
            ProjectionExpression: '#pk',
            ExpressionAttributeNames: names('pk'),
            ConsistentRead: true,
          }),
        );
        if (owner.Item) return true;
      }
      if (!res.LastEvaluatedKey) return false;
      start = res.LastEvaluatedKey;
    }
    return false;
  }

  // --- blob registry ------------------------------------------------------------------------

  async isBlobStored(sha256: string, size: number): Promise<boolean> {
    return blobClaimable(await this.blobRow(sha256, size));
  }

  /** The blob row's expiry state; rows written before expiry existed have none and are `stored`. */
  async blobRow(sha256: string, size: number): Promise<BlobRow | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.blob(sha256, size), ConsistentRead: true }));
    return res.Item && toBlobRow(res.Item);
  }

  /** UpdateItem `SET state = uploading`, conditional on the row being absent, `uploading` or `condemned`. */
  async claimBlobForUpload(sha256: string, size: number, at: string): Promise<'already-stored' | 'claim'> {
    for (let round = 0; round < 3; round++) {
      const claim = uploadClaim(await this.blobRow(sha256, size));
      if (claim === 'retry-later') throw new ConflictError('Blob is being deleted', `the stored copy of ${blobKey(sha256, size)} is being deleted: try again later`);
      if (claim === 'already-stored') return claim;
      const outcome = await attempt(() =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.blob(sha256, size),
            UpdateExpression: 'SET #entity = :entity, #sha256 = :sha256, #size = :size, #state = :uploading, #claimedAt = :at REMOVE #condemnedAt',
            ConditionExpression: 'attribute_not_exists(#pk) OR #state IN (:uploading, :condemned)',
            ExpressionAttributeNames: names('pk', 'entity', 'sha256', 'size', 'state', 'claimedAt', 'condemnedAt'),
            ExpressionAttributeValues: { ':entity': 'blob', ':sha256': sha256, ':size': size, ':uploading': 'uploading', ':condemned': 'condemned', ':at': at },
          }),
        ),
      );
      if (outcome.ok) return 'claim';
    }
    throw new ConflictError('Blob changed concurrently', `the stored copy of ${blobKey(sha256, size)} is changing: try again`);
  }

  /** `uploading` → `stored`, after the copy; a failed condition means a pass condemned it meanwhile (nobody needs it). */
  async markBlobStored(sha256: string, size: number, at: string): Promise<void> {
    await attempt(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.blob(sha256, size),
          UpdateExpression: 'SET #state = :stored, #storedAt = :at',
          ConditionExpression: '#state = :uploading',
          ExpressionAttributeNames: names('state', 'storedAt'),
          ExpressionAttributeValues: { ':stored': 'stored', ':uploading': 'uploading', ':at': at },
        }),
      ),
    );
  }

  // --- relations ----------------------------------------------------------------------------

  /**
   * One transaction: the relation item (conditioned on `attribute_not_exists`, its key being the
   * triple) and ConditionChecks that both artifacts exist. When the triple exists, the stored
   * relation is read and returned with `created: false`.
   */
  async createRelation(relation: ArtifactRelation): Promise<{ relation: ArtifactRelation; created: boolean }> {
    const key = keys.relation(relation.artifact, relation.target, relation.type);
    const exists = (id: number): TransactItem => ({
      ConditionCheck: {
        TableName: this.tableName,
        Key: keys.artifact(id),
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: names('pk'),
      },
    });
    // Nothing may relate to an artifact an expiry pass condemned (it would become reachable again).
    const relatable = (id: number): TransactItem => ({
      ConditionCheck: {
        TableName: this.tableName,
        Key: keys.artifact(id),
        ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#condemnedAt)',
        ExpressionAttributeNames: names('pk', 'condemnedAt'),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.tableName,
          Item: relationItem(relation),
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: names('pk'),
        },
      },
      relation.target === relation.artifact ? relatable(relation.artifact) : exists(relation.artifact),
    ];
    if (relation.target !== relation.artifact) items.push(relatable(relation.target));
    for (let round = 0; round < 3; round++) {
      const outcome = await attempt(() => this.transact(items));
      if (outcome.ok) return { relation, created: true };
      const targetFailed = failedAt(outcome, relation.target === relation.artifact ? 1 : 2);
      if (targetFailed?.item) throw new ConflictError('Artifact is expiring', `artifact ${relation.target} has expired and is being deleted`);
      if (failedAt(outcome, 1)) throw new NotFoundError('Artifact not found', `artifact ${relation.artifact} does not exist`);
      if (targetFailed) throw new NotFoundError('Artifact not found', `artifact ${relation.target} does not exist`);
      const existing = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
      if (existing.Item) return { relation: toRelation(existing.Item), created: false };
      // deleted between our write and our read: try again
    }
    throw new ConflictError('Relation changed concurrently', 'the relation is being created and deleted at the same time; try again');
  }

  /** Through gsi2 (`REL#<id>`): eventually consistent. */
  async getRelation(id: number): Promise<ArtifactRelation | undefined> {
    const item = await firstInIndex(this.doc, this.tableName, GSI2, indexKeys.relationById(id));
    return item && toRelation(item);
  }

  async listRelations(by: RelationEnd): Promise<ArtifactRelation[]> {
    const items = await queryAll(this.doc, relationQuery(this.tableName, by));
    return items.map(toRelation).sort((a, b) => a.id - b.id);
  }

  async relationsPage(by: RelationEnd, opts: { limit: number; cursor?: string }): Promise<Page<ArtifactRelation>> {
    checkLimit(opts.limit);
    const keyNames = relationKeyNames(by);
    const found = await queryPage(this.doc, relationQuery(this.tableName, by), {
      limit: opts.limit,
      keyNames,
      filtered: false,
      // One query of limit + 1 items (a relation item is far below the 1 MB a query page holds).
      budget: 1,
      ...(opts.cursor ? { start: decodeCursor(opts.cursor, keyNames) } : {}),
    });
    return { items: found.items.map(toRelation), ...(found.next ? { next: found.next } : {}) };
  }

  relationCursorAfter(relation: ArtifactRelation, by: RelationEnd): string {
    return encodeCursor(pick(relationItem(relation), relationKeyNames(by)));
  }

  /** Deletes the relation if it is still the one with this id; returns whether it did. */
  async deleteRelation(relation: ArtifactRelation): Promise<boolean> {
    const outcome = await attempt(() =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.relation(relation.artifact, relation.target, relation.type),
          ConditionExpression: 'attribute_exists(#pk) AND #id = :id',
          ExpressionAttributeNames: names('pk', 'id'),
          ExpressionAttributeValues: { ':id': relation.id },
        }),
      ),
    );
    return outcome.ok;
  }

  // --- helpers ------------------------------------------------------------------------------

  private transact(items: TransactItem[]) {
    return this.doc.send(new TransactWriteCommand({ TransactItems: items }));
  }

  /** The artifact half of attach/remove: version bump and incomplete count, same condition as `update`. */
  private bump(artifact: Artifact, expectedVersion: number, incompleteDelta: number): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.artifact(artifact.id),
        UpdateExpression: `SET #version = :next, #updatedAt = :updatedAt${incompleteDelta ? ' ADD #incompleteFiles :delta' : ''}`,
        ConditionExpression: VERSIONED_MUTABLE,
        ExpressionAttributeNames: names('pk', 'version', 'immutable', 'condemnedAt', 'updatedAt', ...(incompleteDelta ? ['incompleteFiles'] : [])),
        ExpressionAttributeValues: {
          ':expected': expectedVersion,
          ':next': expectedVersion + 1,
          ':false': false,
          ':updatedAt': artifact.updatedAt,
          ...(incompleteDelta ? { ':delta': incompleteDelta } : {}),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }
}

// Items <-> domain objects. Every domain field is stored under its own name, except `data`,
// kept as JSON text (`dataJson`) so that any JSON value round-trips exactly (DynamoDB numbers
// refuse integers beyond 2^53 and maps nest at most 32 levels).

export function artifactItem(a: Artifact): Item {
  const sortKey = `${timeKey(a.createdAt, 'createdAt')}#${padId(a.id)}`;
  return {
    ...keys.artifact(a.id),
    entity: 'artifact',
    ...pickFields(a, ['id', 'scope', 'workspace', 'category']),
    dataJson: JSON.stringify(a.data ?? {}),
    ...pickFields(a, ['createdAt', 'updatedAt', 'createdBy']),
    expireAt: a.expireAt ?? null,
    ...pickFields(a, ['immutable', 'incompleteFiles', 'version']),
    gsi1pk: indexKeys.workspaceArtifacts(a.scope, a.workspace),
    gsi1sk: sortKey,
    gsi2pk: indexKeys.workspaceCategory(a.scope, a.workspace, a.category),
    gsi2sk: sortKey,
    ...pickIndex(expiryIndexAttributes(a)),
  };
}

function pickIndex(index: ReturnType<typeof expiryIndexAttributes>): Item {
  return index ? { gsi3pk: index.gsi3pk, gsi3sk: index.gsi3sk } : {};
}

function toArtifact(item: Item): Artifact {
  return {
    ...pickFields(item, ['id', 'scope', 'workspace', 'category']),
    data: JSON.parse(item.dataJson ?? '{}'),
    ...pickFields(item, ['createdAt', 'updatedAt', 'createdBy']),
    expireAt: item.expireAt ?? null,
    ...pickFields(item, ['immutable', 'incompleteFiles', 'version']),
  };
}

/**
 * A file row. `wsBlobPk`/`wsBlobSk` hold the workspace blob index key from the start;
 * it is copied into gsi1pk/gsi1sk when (and only while) the file is complete.
 */
function fileItem(a: Artifact, f: StoredFile): Item {
  const wsBlobPk = indexKeys.workspaceBlob(a.scope, a.workspace, f.sha256, f.size);
  const wsBlobSk = padId(a.id);
  return compact({
    ...keys.file(a.id, f.path),
    entity: 'file',
    artifactId: a.id,
    path: f.path,
    sha256: f.sha256,
    size: f.size,
    contentType: f.contentType,
    complete: f.complete,
    upload: f.upload,
    wsBlobPk,
    wsBlobSk,
    ...(f.complete ? { gsi1pk: wsBlobPk, gsi1sk: wsBlobSk } : {}),
    ...blobReferenceIndex(a.id, f),
  });
}

function toStoredFile(item: Item): StoredFile {
  const upload = item.upload as Item | undefined;
  return compact({
    path: item.path,
    sha256: item.sha256,
    size: item.size,
    contentType: item.contentType,
    complete: item.complete,
    upload: upload && {
      key: upload.key,
      multipartUploadId: upload.multipartUploadId,
      rangedReceived: upload.rangedReceived,
      rangedChunks: upload.rangedChunks,
      verifying: upload.verifying,
      verifyingSince: upload.verifyingSince,
      lastError: upload.lastError,
    },
  });
}

function relationItem(r: ArtifactRelation): Item {
  return {
    ...keys.relation(r.artifact, r.target, r.type),
    entity: 'relation',
    id: r.id,
    artifact: r.artifact,
    target: r.target,
    type: r.type,
    createdAt: r.createdAt,
    gsi1pk: indexKeys.relationsTo(r.target),
    gsi1sk: `${padId(r.artifact)}#${r.type}`,
    gsi2pk: indexKeys.relationById(r.id),
    gsi2sk: 'R',
  };
}

/** The key attributes of the relation listing's table or index (what its LastEvaluatedKey holds). */
function relationKeyNames(by: RelationEnd): readonly string[] {
  return 'artifact' in by ? ['pk', 'sk'] : ['gsi1pk', 'gsi1sk', 'pk', 'sk'];
}

function relationQuery(tableName: string, by: RelationEnd): QueryCommandInput {
  return 'artifact' in by
    ? {
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :relations)',
        ExpressionAttributeNames: names('pk', 'sk'),
        ExpressionAttributeValues: { ':pk': artifactPk(by.artifact), ':relations': RELATIONS_FROM },
        ConsistentRead: true,
      }
    : {
        TableName: tableName,
        IndexName: GSI1,
        KeyConditionExpression: '#gsi1pk = :pk',
        ExpressionAttributeNames: names('gsi1pk'),
        ExpressionAttributeValues: { ':pk': indexKeys.relationsTo(by.target) },
      };
}

function toRelation(item: Item): ArtifactRelation {
  return { id: item.id, artifact: item.artifact, target: item.target, type: item.type, createdAt: item.createdAt };
}
