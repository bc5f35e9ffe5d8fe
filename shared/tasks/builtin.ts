import * as z from 'zod';
import type { TaskDefinition } from './types';
import { lintianTask } from './lintian';
import { mkdebTask } from './mkdeb';
import { gitImportTask } from './git-import';

const requirementFields = {
  /** Conveyor extension: resources the worker must have. */
  required_memory: z.number().int().positive().optional(),
  required_disk: z.number().int().positive().optional(),
};

export const noopTask: TaskDefinition<{ result: boolean; required_memory?: number; required_disk?: number }> = {
  name: 'noop',
  taskType: 'Worker',
  version: 1,
  schema: z.strictObject({ result: z.boolean().default(true), ...requirementFields }),
  requirements: (d) => ({ memory: d.required_memory, disk: d.required_disk }),
  usesServer: false,
  async execute(data, ctx) {
    ctx.log(`noop: result ${data.result ? 'success' : 'failure'}`);
    return { result: data.result ? 'success' : 'failure' };
  },
};

/**
 * Conveyor addition: a Worker task that takes `seconds` to finish, printing a line a second.
 * It stands in for real work in tests, benchmarks and when trying out workers.
 */
export const sleepTask: TaskDefinition<{ seconds: number; result: boolean }> = {
  name: 'sleep',
  taskType: 'Worker',
  version: 1,
  schema: z.strictObject({ seconds: z.number().min(0).max(86_400), result: z.boolean().default(true) }),
  usesServer: false,
  async execute(data, ctx) {
    const end = Date.now() + data.seconds * 1000;
    while (Date.now() < end) {
      if (ctx.signal.aborted) throw new Error('aborted');
      ctx.log(`sleep: ${Math.ceil((end - Date.now()) / 1000)} s left`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(0, end - Date.now()))));
    }
    return { result: data.result ? 'success' : 'failure' };
  },
};

export const serverNoopTask: TaskDefinition<{ result: boolean; exception: boolean }> = {
  name: 'servernoop',
  taskType: 'Server',
  version: 1,
  schema: z.strictObject({ result: z.boolean().default(false), exception: z.boolean().default(false) }),
  async execute(data) {
    if (data.exception) throw new Error('servernoop was asked to fail');
    return { result: data.result ? 'success' : 'failure' };
  },
};

export const synchronizationPointTask: TaskDefinition<Record<string, never>> = {
  name: 'synchronization_point',
  taskType: 'Internal',
  version: 1,
  schema: z.strictObject({}),
};

export const delayTask: TaskDefinition<{ delay_until: string }> = {
  name: 'delay',
  taskType: 'Wait',
  version: 1,
  schema: z.strictObject({
    delay_until: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date'),
  }),
};

export const BUILTIN_TASKS: TaskDefinition[] = [noopTask, sleepTask, mkdebTask, serverNoopTask, synchronizationPointTask, delayTask, lintianTask, gitImportTask];
