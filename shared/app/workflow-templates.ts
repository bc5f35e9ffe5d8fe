/** Workflow templates (Debusine's `WorkflowTemplate`): the fixed parameters a run starts from. */
import { ForbiddenError, NotFoundError, ValidationError } from '../domain/errors';
import type { WorkflowTemplate } from '../domain/workflows';
import { normaliseWorkflowName } from '../domain/workflows';
import { prefixFields, zodFieldErrors } from '../domain/zod-errors';
import { findWorkflow } from '../workflows';
import type { Deps, Page } from '../ports';
import { accessWorkspace, isAdmin, requireUser, type Caller } from './auth';
import { createFirstVersion } from './first-versions';


export const templateNotFound = () => new NotFoundError('Not found', 'Workflow template not found');

function checkTemplateData(taskName: string, data: Record<string, unknown>): void {
  const def = findWorkflow(taskName);
  if (!def) throw ValidationError.field('task_name', `${taskName}: no such workflow`, 'Invalid workflow template');
  // The template holds fixed parameters only: check what it has, not what run-time data adds.
  const schema = def.schema as unknown as { partial?: () => { safeParse(v: unknown): { success: boolean; error?: any } } };
  const parsed = schema.partial ? schema.partial().safeParse(data) : { success: true };
  if (!parsed.success) throw new ValidationError('Invalid workflow template', prefixFields('task_data', zodFieldErrors(parsed.error)));
  def.validateTemplateData?.(data);
}

function checkPriority(caller: Caller, priority: number): void {
  if (!Number.isInteger(priority)) throw ValidationError.field('priority', 'must be an integer', 'Invalid workflow template');
  if (priority > 0 && !isAdmin(caller)) throw new ForbiddenError('Permission denied', 'only administrators may give a template a priority above 0');
}

export async function createTemplate(
  deps: Deps,
  caller: Caller,
  input: { scope: string; workspace: string; name: string; taskName: string; taskData?: Record<string, unknown>; priority?: number },
): Promise<WorkflowTemplate> {
  requireUser(caller);
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'owner');
  const name = normaliseWorkflowName(input.name);
  checkTemplateData(input.taskName, input.taskData ?? {});
  checkPriority(caller, input.priority ?? 0);
  return createFirstVersion<WorkflowTemplate>(deps, deps.templates, {
    id: await deps.sequences.next('workflow-template'),
    scope: input.scope,
    workspace: input.workspace,
    name,
    taskName: input.taskName,
    taskData: input.taskData ?? {},
    priority: input.priority ?? 0,
  });
}

/** One page of the workspace's templates, by name. */
export async function listTemplates(
  deps: Deps,
  caller: Caller,
  input: { scope: string; workspace: string; limit: number; cursor?: string },
): Promise<Page<WorkflowTemplate>> {
  await accessWorkspace(deps, caller, input.scope, input.workspace, 'viewer');
  return deps.templates.listPage(input.scope, input.workspace, { limit: input.limit, ...(input.cursor !== undefined ? { cursor: input.cursor } : {}) });
}

async function loadTemplate(deps: Deps, caller: Caller, id: number, needed: 'viewer' | 'owner'): Promise<WorkflowTemplate> {
  const template = await deps.templates.get(id);
  if (!template) throw templateNotFound();
  await accessWorkspace(deps, caller, template.scope, template.workspace, needed, templateNotFound);
  return template;
}

export function getTemplate(deps: Deps, caller: Caller, id: number): Promise<WorkflowTemplate> {
  return loadTemplate(deps, caller, id, 'viewer');
}

export async function updateTemplate(
  deps: Deps,
  caller: Caller,
  id: number,
  patch: { name?: string; taskData?: Record<string, unknown>; priority?: number },
): Promise<WorkflowTemplate> {
  requireUser(caller);
  const template = await loadTemplate(deps, caller, id, 'owner');
  const next: WorkflowTemplate = {
    ...template,
    name: patch.name !== undefined ? normaliseWorkflowName(patch.name) : template.name,
    taskData: patch.taskData ?? template.taskData,
    priority: patch.priority ?? template.priority,
    version: template.version + 1,
  };
  checkTemplateData(next.taskName, next.taskData);
  if (patch.priority !== undefined) checkPriority(caller, patch.priority);
  await deps.templates.update(next, template.version);
  return next;
}

export async function deleteTemplate(deps: Deps, caller: Caller, id: number): Promise<void> {
  requireUser(caller);
  await deps.templates.delete(await loadTemplate(deps, caller, id, 'owner'));
}
