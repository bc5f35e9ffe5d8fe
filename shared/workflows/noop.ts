import * as z from 'zod';
import type { WorkflowDefinition } from './types';

/** Debusine's `noop` workflow: no children, so it completes with success at once. */
export const noopWorkflow: WorkflowDefinition<Record<string, never>> = {
  name: 'noop',
  schema: z.strictObject({}),
  async populate() {},
};
