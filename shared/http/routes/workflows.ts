/**
 * The Debusine `workflow-template/` and `workflow/` APIs (reference/debusine.md §2), plus Conveyor's
 * REANA-style run lookup. Thin: validate, call the use case (shared/app/workflows.ts), shape the JSON.
 *
 * - `GET workflow-template/?workspace=W` → `[template]`; `POST` → 201 template;
 *   `GET/PATCH/DELETE workflow-template/<id>/` → template / template / 204.
 *   A template is `{id, url, name, scope, workspace, task_name, task_data, priority}`.
 * - `POST workflow/` `{template_name, workspace?, task_data?}` → 201 work request (with `run`).
 * - `GET workflow/<id>/` → `{workflow: <work request>, children: [node]}`, each node
 *   `{work_request: <work request>, children: [node]}` (sub-workflows nest; every child, superseded
 *   ones included, by id).
 * - `GET workflow/?workspace=W&name=LOOKUP` → the run's work request; LOOKUP is `name` (latest run),
 *   `name.N` or `name.N.M`.
 */
import * as z from 'zod';
import { createTemplate, deleteTemplate, getTemplate, listTemplates, updateTemplate } from '../../app/workflow-templates';
import { findWorkflowRun, startWorkflow, workflowTree, type WorkflowTreeNode } from '../../app/workflow-runs';
import { ValidationError } from '../../domain/errors';
import { camelCaseFields, definedFields, snakeCaseFields } from '../../domain/fields';
import { addressedWorkspace } from '../addressed-workspace';
import type { WorkflowTemplate } from '../../domain/workflows';
import type { Deps } from '../../ports';
import { workRequestJson } from '../serializers';
import { workerIdsOf, type WorkerIds } from '../../app/worker-ids';
import { json, jsonBody, noContent, type HttpRequest, type RouteHandler } from '../request';
import { parseWith, idParam } from '../validation';
import { withInput } from '../route-input';
import { listRoute, pageQueryFields } from '../paged-list';

const jsonObject = z.record(z.string(), z.unknown());
const priority = z.number().int().min(-1_000_000).max(1_000_000);

const templateCreateSchema = z.strictObject({
  name: z.string().max(255),
  task_name: z.string().min(1).max(255),
  task_data: jsonObject.default({}),
  priority: priority.default(0),
  workspace: z.string().min(1).optional(),
});

const templatePatchSchema = z.strictObject({
  name: z.string().max(255).optional(),
  task_data: jsonObject.optional(),
  priority: priority.optional(),
});

const templateListQuery = z.strictObject({ workspace: z.string().min(1), ...pageQueryFields });

const workflowCreateSchema = z.strictObject({
  template_name: z.string().min(1).max(255),
  workspace: z.string().min(1).optional(),
  task_data: jsonObject.default({}),
  // REANA's workflow complexity, [[jobs, memory_bytes], ...]: used by the balanced scheduling policy only.
  complexity: z.array(z.tuple([z.number().int().min(0), z.number().min(0)])).max(1000).optional(),
});

const runLookupQuery = z.strictObject({ workspace: z.string().min(1).optional(), name: z.string().min(1).max(300) });

export function workflowTemplateJson(t: WorkflowTemplate, baseUrl: string) {
  return {
    id: t.id,
    url: `${baseUrl}/api/1.0/workflow-template/${t.id}/`,
    ...snakeCaseFields(t, ['name', 'scope', 'workspace', 'taskName', 'taskData', 'priority']),
  };
}

export interface WorkflowTreeJson {
  workflow: ReturnType<typeof workRequestJson>;
  children: WorkflowTreeNodeJson[];
}

export interface WorkflowTreeNodeJson {
  work_request: ReturnType<typeof workRequestJson>;
  children: WorkflowTreeNodeJson[];
}

export function workflowTreeJson(tree: WorkflowTreeNode, baseUrl: string, workerIds: WorkerIds = new Map()): WorkflowTreeJson {
  const node = (n: WorkflowTreeNode): WorkflowTreeNodeJson => ({ work_request: workRequestJson(n.workRequest, baseUrl, workerIds), children: n.children.map(node) });
  return { workflow: workRequestJson(tree.workRequest, baseUrl, workerIds), children: tree.children.map(node) };
}

function treeWorkers(n: WorkflowTreeNode): (string | null)[] {
  return [n.workRequest.worker, ...n.children.flatMap(treeWorkers)];
}

/** A JSON object body, or a 400 with `title`. */
function objectBody(req: HttpRequest, title: string): Record<string, unknown> {
  const body = jsonBody(req);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw ValidationError.field('(body)', 'must be a JSON object', title);
  return body as Record<string, unknown>;
}

export function workflowRoutes(getDeps: () => Deps): Record<string, RouteHandler> {
  return {
    'GET /api/1.0/workflow-template/': listRoute(
      templateListQuery,
      '/api/1.0/workflow-template/',
      (req, q, page) => listTemplates(getDeps(), req.caller, { scope: req.scope, workspace: q.workspace, ...page }),
      (req) => (t) => workflowTemplateJson(t, req.baseUrl),
    ),
    'POST /api/1.0/workflow-template/': withInput({ body: templateCreateSchema }, async (req) => {
      const body = parseWith(templateCreateSchema, objectBody(req, 'Invalid workflow template'), 'Invalid workflow template');
      const template = await createTemplate(getDeps(), req.caller, {
        ...addressedWorkspace(req, body),
        ...camelCaseFields(body, ['name', 'task_name', 'task_data', 'priority']),
      });
      return json(201, workflowTemplateJson(template, req.baseUrl));
    }),
    'GET /api/1.0/workflow-template/{id}/': async (req) => json(200, workflowTemplateJson(await getTemplate(getDeps(), req.caller, idParam(req)), req.baseUrl)),
    'PATCH /api/1.0/workflow-template/{id}/': withInput({ body: templatePatchSchema }, async (req) => {
      const templateId = idParam(req);
      const body = parseWith(templatePatchSchema, objectBody(req, 'Invalid workflow template'), 'Invalid workflow template');
      const updated = await updateTemplate(getDeps(), req.caller, templateId, definedFields(camelCaseFields(body, ['name', 'task_data', 'priority'])));
      return json(200, workflowTemplateJson(updated, req.baseUrl));
    }),
    'DELETE /api/1.0/workflow-template/{id}/': async (req) => {
      await deleteTemplate(getDeps(), req.caller, idParam(req));
      return noContent();
    },
    'POST /api/1.0/workflow/': withInput({ body: workflowCreateSchema }, async (req) => {
      const body = parseWith(workflowCreateSchema, objectBody(req, 'Cannot create workflow'), 'Cannot create workflow');
      const wr = await startWorkflow(getDeps(), req.caller, {
        ...addressedWorkspace(req, body),
        ...camelCaseFields(body, ['template_name', 'task_data']),
        ...(body.complexity ? { complexity: body.complexity } : {}),
      });
      return json(201, workRequestJson(wr, req.baseUrl, await workerIdsOf(getDeps(), [wr.worker])));
    }),
    'GET /api/1.0/workflow/': withInput({ query: runLookupQuery }, async (req) => {
      const q = parseWith(runLookupQuery, req.query, 'Invalid query');
      const wr = await findWorkflowRun(getDeps(), req.caller, { ...addressedWorkspace(req, q), lookup: q.name });
      return json(200, workRequestJson(wr, req.baseUrl, await workerIdsOf(getDeps(), [wr.worker])));
    }),
    'GET /api/1.0/workflow/{id}/': async (req) => {
      const tree = await workflowTree(getDeps(), req.caller, idParam(req));
      return json(200, workflowTreeJson(tree, req.baseUrl, await workerIdsOf(getDeps(), treeWorkers(tree))));
    },
  };
}
