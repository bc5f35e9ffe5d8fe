/**
 * Workflow templates and the REANA-style run index, in the main table.
 *
 * | entity | pk | sk | attributes |
 * | --- | --- | --- | --- |
 * | template | `WFT#<id>` | `T` | id, scope, workspace, name, taskName, taskDataJson, priority, createdAt, version |
 * | template name | `WS#<scope>#<workspace>` | `WFTNAME#<name>` | templateId (one per name: uniqueness guard and listing) |
 * | run | `RUN#<scope>#<workspace>#<name>` | `<major, 10 digits>.<minor, 10 digits>` | major, minor, workRequestId |
 *
 * - Names are unique per workspace through the name item, written in the same transaction as the
 *   template (`attribute_not_exists`); a rename moves it (delete the old, create the new) in the
 *   transaction that updates the template, so a name is never held by two templates.
 * - `getByName` and `list` read the workspace partition with consistent reads (a GetItem, or a
 *   Query of `begins_with(sk, 'WFTNAME#')`: name order), then the templates themselves
 *   (GetItem / consistent BatchGetItem): no index, so a template is visible as soon as it is created.
 * - Run numbers sort as zero-padded text: the latest run is the first item of a descending Query.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import type { RunNumber, WorkflowTemplate } from '../../domain/workflows';
import { pickFields } from '../../domain/fields';
import type { WorkflowTemplateRepository } from '../../ports';
import { attempt, failedAt, firstFailure, rawNumber, type RawItem } from './errors';
import { type Key, padId } from './keys';
import { batchGet, type Item, names, versionedPut, queryPartition } from './support';
import { queryPrefixPage } from './prefix-page';
import type { Page } from '../../ports';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export const TEMPLATE_NAMES = 'WFTNAME#';

/** A name that becomes part of a key: non-empty, without the separator. */
function part(value: string, field: string): string {
  if (value.length === 0 || value.includes('#')) throw ValidationError.field(field, 'must be non-empty and must not contain "#"');
  return value;
}

function runPart(n: number, field: string): string {
  if (!Number.isSafeInteger(n) || n < 0 || n > 9_999_999_999) throw ValidationError.field(field, 'must be a whole number from 0 to 9999999999');
  return String(n).padStart(10, '0');
}

export const templateKeys = {
  template: (id: number): Key => {
    padId(id); // validates
    return { pk: `WFT#${id}`, sk: 'T' };
  },
  name: (scope: string, workspace: string, name: string): Key => ({
    pk: `WS#${part(scope, 'scope')}#${part(workspace, 'workspace')}`,
    sk: `${TEMPLATE_NAMES}${part(name, 'name')}`,
  }),
  runPartition: (scope: string, workspace: string, name: string): string =>
    `RUN#${part(scope, 'scope')}#${part(workspace, 'workspace')}#${part(name, 'name')}`,
  run: (scope: string, workspace: string, name: string, run: RunNumber): Key => ({
    pk: templateKeys.runPartition(scope, workspace, name),
    sk: `${runPart(run.major, 'run')}.${runPart(run.minor, 'run')}`,
  }),
};

export class DynamoWorkflowTemplateRepository implements WorkflowTemplateRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** One transaction: the template (`attribute_not_exists(pk)`) and its name item (`attribute_not_exists(pk)`). */
  async create(template: WorkflowTemplate): Promise<void> {
    await this.transact([
      {
        item: {
          Put: {
            TableName: this.tableName,
            Item: templateItem(template, template.version),
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: names('pk'),
          },
        },
        conflict: () => new ConflictError('Workflow template exists', `workflow template ${template.id} already exists`),
      },
      this.claimName(template),
    ]);
  }

  async get(id: number): Promise<WorkflowTemplate | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: templateKeys.template(id), ConsistentRead: true }));
    return res.Item && toTemplate(res.Item);
  }

  async getByName(scope: string, workspace: string, name: string): Promise<WorkflowTemplate | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: templateKeys.name(scope, workspace, name), ConsistentRead: true }),
    );
    if (!res.Item) return undefined;
    const template = await this.get(Number(res.Item.templateId));
    // A name item always names its template (same transaction); be strict if it ever does not.
    return template && template.name === name && template.scope === scope && template.workspace === workspace ? template : undefined;
  }

  /** One page of the name items (sort key: the name), then their templates. */
  async listPage(scope: string, workspace: string, opts: { limit: number; cursor?: string }): Promise<Page<WorkflowTemplate>> {
    const { pk } = templateKeys.name(scope, workspace, 'x');
    const found = await queryPrefixPage(this.doc, this.tableName, pk, TEMPLATE_NAMES, opts);
    const templates =
      found.items.length === 0
        ? []
        : await batchGet(this.doc, this.tableName, found.items.map((i) => templateKeys.template(Number(i.templateId))), { consistent: true });
    const sorted = templates.map(toTemplate).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id));
    return { items: sorted, ...(found.next ? { next: found.next } : {}) };
  }

  /** By name. */
  async list(scope: string, workspace: string): Promise<WorkflowTemplate[]> {
    const { pk } = templateKeys.name(scope, workspace, 'x');
    const nameItems = await queryPartition(this.doc, this.tableName, pk, { beginsWith: TEMPLATE_NAMES });
    if (nameItems.length === 0) return [];
    const items = await batchGet(
      this.doc,
      this.tableName,
      nameItems.map((i) => templateKeys.template(Number(i.templateId))),
      { consistent: true },
    );
    return items.map(toTemplate).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id));
  }

  /**
   * Put of the whole template at `expectedVersion + 1`, conditional on the version; a rename also
   * deletes the old name item (conditional on naming this template) and claims the new one.
   */
  async update(template: WorkflowTemplate, expectedVersion: number): Promise<void> {
    const current = await this.get(template.id);
    if (!current) throw new NotFoundError('Workflow template not found', `workflow template ${template.id} does not exist`);
    if (current.scope !== template.scope || current.workspace !== template.workspace) {
      throw ValidationError.field('workspace', 'a workflow template cannot move to another workspace');
    }
    const ops: Op[] = [
      {
        item: {
          Put: versionedPut(this.tableName, templateItem(template, expectedVersion + 1), expectedVersion),
        },
        conflict: (old) =>
          old
            ? new ConflictError(
                'Workflow template was changed concurrently',
                `expected version ${expectedVersion}, found ${rawNumber(old, 'version') ?? 'none'}; reload and try again`,
              )
            : new NotFoundError('Workflow template not found', `workflow template ${template.id} does not exist`),
      },
    ];
    if (current.name !== template.name) {
      ops.push(this.releaseName(current), this.claimName(template));
    }
    await this.transact(ops);
  }

  /** Deletes the template and its name item in one transaction. Past runs stay findable. */
  async delete(template: WorkflowTemplate): Promise<void> {
    await this.transact([
      {
        item: { Delete: { TableName: this.tableName, Key: templateKeys.template(template.id) } },
        conflict: () => new ConflictError('Concurrent update', 'reload and try again'), // unconditional
      },
      this.releaseName(template),
    ]);
  }

  /**
   * Put of the run item, conditional on the run being new or already naming this work request
   * (recording the same run twice is harmless; a run number cannot change hands).
   */
  async recordRun(scope: string, workspace: string, name: string, run: RunNumber, workRequestId: number): Promise<void> {
    padId(workRequestId); // validates
    const key = templateKeys.run(scope, workspace, name, run);
    const outcome = await attempt(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, entity: 'workflowRun', scope, workspace, name, major: run.major, minor: run.minor, workRequestId },
          ConditionExpression: 'attribute_not_exists(#pk) OR #workRequestId = :id',
          ExpressionAttributeNames: names('pk', 'workRequestId'),
          ExpressionAttributeValues: { ':id': workRequestId },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    const failed = failedAt(outcome);
    if (failed) {
      throw new ConflictError(
        'Run number taken',
        `run ${run.major}.${run.minor} of workflow "${name}" is work request ${rawNumber(failed.item, 'workRequestId') ?? '?'}`,
      );
    }
  }

  /** GetItem of the run, or (no `run`) the first item of a descending, consistent Query: the latest. */
  async findRun(scope: string, workspace: string, name: string, run?: RunNumber): Promise<{ run: RunNumber; workRequestId: number } | undefined> {
    if (run) {
      const res = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: templateKeys.run(scope, workspace, name, run), ConsistentRead: true }),
      );
      return res.Item && toRunRecord(res.Item);
    }
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: names('pk'),
        ExpressionAttributeValues: { ':pk': templateKeys.runPartition(scope, workspace, name) },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const item = res.Items?.[0];
    return item && toRunRecord(item);
  }

  // --- helpers ------------------------------------------------------------------------------

  private claimName(template: WorkflowTemplate): Op {
    return {
      item: {
        Put: {
          TableName: this.tableName,
          Item: {
            ...templateKeys.name(template.scope, template.workspace, template.name),
            entity: 'workflowTemplateName',
            templateId: template.id,
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: names('pk'),
        },
      },
      conflict: () =>
        new ConflictError(
          'Workflow template exists',
          `workspace "${template.workspace}" already has a workflow template named "${template.name}"`,
        ),
    };
  }

  private releaseName(template: WorkflowTemplate): Op {
    return {
      item: {
        Delete: {
          TableName: this.tableName,
          Key: templateKeys.name(template.scope, template.workspace, template.name),
          ConditionExpression: 'attribute_not_exists(#pk) OR #templateId = :id',
          ExpressionAttributeNames: names('pk', 'templateId'),
          ExpressionAttributeValues: { ':id': template.id },
        },
      },
      conflict: () => new ConflictError('Workflow template was changed concurrently', 'its name moved to another template; reload and try again'),
    };
  }

  private async transact(ops: Op[]): Promise<void> {
    const outcome = await attempt(() => this.doc.send(new TransactWriteCommand({ TransactItems: ops.map((o) => o.item) })));
    if (outcome.ok) return;
    const failure = firstFailure(outcome);
    if (!failure) throw new ConflictError('Concurrent update', 'the transaction was cancelled; reload and try again');
    throw ops[failure.index]!.conflict(failure.reason.item);
  }
}

interface Op {
  item: TransactItem;
  conflict: (old: RawItem | undefined) => Error;
}

export function templateItem(t: WorkflowTemplate, version: number): Item {
  return {
    ...templateKeys.template(t.id),
    entity: 'workflowTemplate',
    ...pickFields(t, ['id', 'scope', 'workspace', 'name', 'taskName']),
    taskDataJson: JSON.stringify(t.taskData ?? {}),
    ...pickFields(t, ['priority', 'createdAt']),
    version,
  };
}

export function toTemplate(item: Item): WorkflowTemplate {
  return {
    id: Number(item.id),
    ...pickFields(item, ['scope', 'workspace', 'name', 'taskName']),
    taskData: JSON.parse(item.taskDataJson ?? '{}'),
    priority: Number(item.priority ?? 0),
    createdAt: item.createdAt,
    version: Number(item.version),
  };
}

function toRunRecord(item: Item): { run: RunNumber; workRequestId: number } {
  return { run: { major: Number(item.major), minor: Number(item.minor) }, workRequestId: Number(item.workRequestId) };
}
