import * as z from 'zod';
import type { TaskDefinition } from './types';
import { lintianTask } from './lintian';
import { mkdebTask } from './mkdeb';
import { gitImportTask } from './git-import';
import { executeNoop, executeSleep, SLEEP_MAX_SECONDS } from './trivial';

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
  execute: executeNoop,
};

/**
 * Conveyor addition: a Worker task that takes `seconds` to finish, printing a line a second.
 * It stands in for real work in tests, benchmarks and when trying out workers.
 */
export const sleepTask: TaskDefinition<{ seconds: number; result: boolean }> = {
  name: 'sleep',
  taskType: 'Worker',
  version: 1,
  schema: z.strictObject({ seconds: z.number().min(0).max(SLEEP_MAX_SECONDS), result: z.boolean().default(true) }),
  usesServer: false,
  execute: executeSleep,
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
