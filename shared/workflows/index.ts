import type { WorkflowDefinition } from './types';
import { noopWorkflow } from './noop';
import { buildAndLintWorkflow } from './build-and-lint';

export * from './types';

const REGISTRY = new Map<string, WorkflowDefinition>([noopWorkflow, buildAndLintWorkflow].map((w) => [w.name, w]));

export function findWorkflow(name: string): WorkflowDefinition | undefined {
  return REGISTRY.get(name);
}

/** Adds a workflow definition (used by tests to orchestrate generated graphs). */
export function registerWorkflow(def: WorkflowDefinition): void {
  REGISTRY.set(def.name, def);
}
