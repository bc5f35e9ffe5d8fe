/**
 * Event reactions as data (reference/debusine.md §4): the typed schema of each action, the order
 * they run in, and the pure parts of running them (name templates, variables, artifact filters,
 * retry delays). The app layer (shared/app/event-reactions.ts) does the I/O.
 */
import * as z from 'zod';
import { MAX_NOTIFICATION_ADDRESSES, tooMany } from './limits';
import { succeeded, type EventName, type WorkRequest } from './work-requests';

const lookupText = z.union([z.string().min(1), z.number().int()]).transform(String);

const addressList = z.array(z.string()).max(MAX_NOTIFICATION_ADDRESSES, tooMany('MAX_NOTIFICATION_ADDRESSES', MAX_NOTIFICATION_ADDRESSES, 'addresses')).optional();

/** The only action API users may ask for (Debusine); the others come from workflows. */
export const sendNotificationAction = z.strictObject({
  action: z.literal('send-notification'),
  channel: z.string().min(1),
  data: z
    .strictObject({
      from: z.string().optional(),
      to: addressList,
      cc: addressList,
      subject: z.string().optional(),
    })
    .optional(),
});

export const reactionActionSchema = z.discriminatedUnion('action', [
  sendNotificationAction,
  z.object({
    action: z.literal('update-collection-with-artifacts'),
    collection: lookupText,
    name_template: z.string().optional(),
    variables: z.record(z.string(), z.unknown()).default({}),
    artifact_filters: z.record(z.string(), z.unknown()).default({}),
  }),
  z.object({
    action: z.literal('update-collection-with-data'),
    collection: lookupText,
    category: z.string().min(1),
    name_template: z.string().optional(),
    data: z.record(z.string(), z.unknown()).default({}),
  }),
  z.object({ action: z.literal('retry-with-delays'), delays: z.array(z.string()).default([]) }),
  z.object({ action: z.literal('skip-if-lookup-result-changed'), lookup: lookupText, collection_item_id: z.number().int().nullable().default(null) }),
]);

export type ReactionAction = z.infer<typeof reactionActionSchema>;
export type ReactionOf<A extends ReactionAction['action']> = Extract<ReactionAction, { action: A }>;

/** Skip first, then notifications, collection updates, retries (Debusine's order). */
const ORDER: readonly ReactionAction['action'][] = [
  'skip-if-lookup-result-changed',
  'send-notification',
  'update-collection-with-artifacts',
  'update-collection-with-data',
  'retry-with-delays',
];

export interface ParsedReactions {
  actions: ReactionAction[];
  /** Stored actions that do not match the schema: reported, never run. */
  invalid: { action: unknown; problem: string }[];
}

/** The reactions `wr` has for `event`, typed and in the order they run. */
export function reactionsFor(wr: Pick<WorkRequest, 'eventReactions'>, event: EventName): ParsedReactions {
  const out: ParsedReactions = { actions: [], invalid: [] };
  for (const raw of wr.eventReactions[event] ?? []) {
    const parsed = reactionActionSchema.safeParse(raw);
    if (parsed.success) out.actions.push(parsed.data);
    else out.invalid.push({ action: raw['action'], problem: parsed.error.issues.map((i) => `${i.path.join('.') || 'action'}: ${i.message}`).join('; ') });
  }
  out.actions.sort((a, b) => ORDER.indexOf(a.action) - ORDER.indexOf(b.action));
  return out;
}

/** `{name}` placeholders filled from `vars`; a missing one becomes empty. */
export function renderTemplate(template: string, vars: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (_m, key: string) => String(vars[key] ?? ''));
}

/** `$.a.b` / `$a.b` are paths into the artifact's data; other values are literal. */
export function evaluateVariables(variables: Record<string, unknown>, artifactData: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(variables)) {
    if (key.startsWith('$') && typeof value === 'string') {
      let v: unknown = artifactData;
      for (const part of value.replace(/^\$\.?/, '').split('.').filter(Boolean)) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
      out[key.slice(1)] = v;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** `category` and `data__<key>` filters of update-collection-with-artifacts. */
export function matchesArtifactFilters(artifact: { category: string; data: Record<string, unknown> }, filters: Record<string, unknown>): boolean {
  for (const [key, expected] of Object.entries(filters)) {
    if (key === 'category') {
      if (artifact.category !== expected) return false;
    } else if (key.startsWith('data__')) {
      if (artifact.data[key.slice(6)] !== expected) return false;
    }
  }
  return true;
}

/** The subject of a send-notification mail, with `$work_request_id` and `$work_request_result` filled. */
export function notificationSubject(wr: Pick<WorkRequest, 'id' | 'result' | 'status'>, subject: string | undefined): string {
  return (subject ?? 'WorkRequest $work_request_id completed in $work_request_result')
    .replace('$work_request_id', String(wr.id))
    .replace('$work_request_result', wr.result || wr.status);
}

export function notificationBody(wr: Pick<WorkRequest, 'id' | 'taskType' | 'taskName' | 'scope' | 'workspace' | 'status' | 'result'>): string {
  return `Work request ${wr.id} (${wr.taskType}/${wr.taskName}) in ${wr.scope}/${wr.workspace} is ${wr.status}${wr.result ? ` with result ${wr.result}` : ''}.\n`;
}

const DELAY = /^(\d+)([mhdw])$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * When a failed workflow child is to be retried by its retry-with-delays reaction, or undefined
 * when it is not (succeeded, aborted, already retried, no such reaction, delays used up). Until the
 * retry exists, its dependents wait for it instead of being aborted.
 */
export function delayedRetryOf(wr: WorkRequest): Date | undefined {
  if (wr.status !== 'completed' || succeeded(wr) || wr.supersededBy !== null) return undefined;
  const action = reactionsFor(wr, 'on_failure').actions.find((a): a is ReactionOf<'retry-with-delays'> => a.action === 'retry-with-delays');
  return action ? retryDelayUntil(wr, action) : undefined;
}

/**
 * retry-with-delays: when the failed workflow child `wr` is retried, counted from when it
 * finished; undefined when it is not a workflow child, its delays are used up or malformed.
 */
export function retryDelayUntil(wr: Pick<WorkRequest, 'parent' | 'retryCount' | 'completedAt'>, action: ReactionOf<'retry-with-delays'>): Date | undefined {
  if (wr.parent === null || wr.completedAt === null || wr.retryCount >= action.delays.length) return undefined;
  const m = DELAY.exec(action.delays[wr.retryCount]!);
  if (!m) return undefined;
  return new Date(Date.parse(wr.completedAt) + Number(m[1]) * UNIT_MS[m[2]!]!);
}
