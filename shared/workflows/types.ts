/**
 * The orchestrator plug-in interface (Debusine's `Workflow` base class): a workflow validates
 * its data, builds its graph of children in `populate()` and reacts to callback steps. Both
 * must be idempotent: SQS redelivers, and a retried workflow populates again.
 */
import type { z } from 'zod';
import type { TaskType, WorkflowData, WorkRequest } from '../domain/work-requests';

export interface ChildSpec {
  taskType?: TaskType;
  taskName: string;
  taskData: Record<string, unknown>;
  workflowData: WorkflowData;
  relativePriority?: number;
}

export interface WorkflowContext {
  /** The workflow being orchestrated (a root or a sub-workflow). */
  workflow: WorkRequest;
  /** Its validated task data. */
  data: Record<string, unknown>;
  /** Returns the matching existing child (same type, name, task data and workflow data) or creates it. */
  ensureChild(spec: ChildSpec): Promise<WorkRequest>;
  /** A callback step (`Internal/workflow`) that runs `callbacks[step]` once its dependencies are done. */
  ensureCallback(step: string, dependsOn: WorkRequest[]): Promise<WorkRequest>;
  addDependency(child: WorkRequest, dependency: WorkRequest): Promise<WorkRequest>;
  /** Records in the internal collection that `child` will produce an artifact named `name`. */
  providesArtifact(child: WorkRequest, category: string, name: string, data?: Record<string, unknown>): Promise<void>;
  /** Makes `child` depend on the producers of the promises `lookup` finds. */
  requiresArtifact(child: WorkRequest, lookup: unknown): Promise<WorkRequest>;
  /** Resolves a lookup as the workflow's creator (artifacts and promises). */
  lookupArtifacts(lookup: unknown): Promise<import('../domain/collections').LookupResult[]>;
  /** Stores a summary in the workflow's output data. */
  recordOutput(output: Record<string, unknown>): Promise<void>;
  /** The workflow's current children (every one, superseded included). */
  children(): Promise<WorkRequest[]>;
  /** An artifact's category and data, for the workflow utilities. */
  artifact(id: number): Promise<import('./utils').ArtifactView>;
}

export interface WorkflowDefinition<D = Record<string, unknown>> {
  name: string;
  /** Strict: unknown keys refused. Validated against the merged (template + run-time) data. */
  schema: z.ZodType<D>;
  /** Extra checks of the template's fixed data. */
  validateTemplateData?(data: Record<string, unknown>): void;
  populate(ctx: WorkflowContext, data: D): Promise<void>;
  callbacks?: Record<string, WorkflowCallback<D>>;
}

/**
 * A named callback. Written as a method signature (checked like `populate`, bivariantly in `data`)
 * so that a definition of its own data type stands in the registry of all definitions
 * (`WorkflowDefinition` of plain records): the orchestrator only ever passes a callback the output
 * of the same definition's schema.
 */
export type WorkflowCallback<D> = { callback(ctx: WorkflowContext, data: D): Promise<void> }['callback'];
