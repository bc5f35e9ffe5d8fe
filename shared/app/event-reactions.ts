/**
 * Event reactions (reference/debusine.md §4): what a work request does on creation, unblock,
 * assignment, success and failure. Order: skip → notifications → collection updates → retries.
 */
import { NotFoundError } from '../domain/errors';
import type { EventName, WorkRequest } from '../domain/work-requests';
import type { Deps } from '../ports';
import { addItemAsWorkflow } from './collections';
import { notificationEnvelope } from './notification-policy';
import { callerForCreator, resolveLookupSingle, rootWorkflowOf } from './lookups';
import type { Caller } from './auth';

const ORDER = ['skip-if-lookup-result-changed', 'send-notification', 'update-collection-with-artifacts', 'update-collection-with-data', 'retry-with-delays'];

export interface ReactionEffects {
  /** Set when `skip-if-lookup-result-changed` decided the request must not run. */
  skipReason?: string;
}

/** Workflow code acts as the request's creator (Debusine: lookups run as `created_by`). */
export function creatorCaller(deps: Deps, wr: WorkRequest): Promise<Caller> {
  return callerForCreator(deps, wr.createdBy);
}

export { rootWorkflowOf };

function render(template: string, vars: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (_m, key: string) => String(vars[key] ?? ''));
}

/** `$.a.b` / `$a.b` are paths into the artifact's data; other values are literal. */
function evaluateVariables(variables: Record<string, unknown>, artifactData: Record<string, unknown>): Record<string, unknown> {
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

function matchesFilters(artifact: { category: string; data: Record<string, unknown> }, filters: Record<string, unknown>): boolean {
  for (const [key, expected] of Object.entries(filters)) {
    if (key === 'category') {
      if (artifact.category !== expected) return false;
    } else if (key.startsWith('data__')) {
      if (artifact.data[key.slice(6)] !== expected) return false;
    }
  }
  return true;
}

export async function runEventReactions(deps: Deps, wr: WorkRequest, event: EventName): Promise<ReactionEffects> {
  const actions = [...(wr.eventReactions[event] ?? [])].sort((a, b) => ORDER.indexOf(String(a['action'])) - ORDER.indexOf(String(b['action'])));
  const effects: ReactionEffects = {};
  for (const action of actions) {
    try {
      await runAction(deps, wr, event, action, effects);
    } catch (err) {
      // Debusine logs reaction errors; a broken reaction must not wedge the request.
      console.error(`event reaction ${String(action['action'])} of work request ${wr.id} failed`, err);
    }
  }
  return effects;
}

async function runAction(deps: Deps, wr: WorkRequest, event: EventName, action: Record<string, unknown>, effects: ReactionEffects): Promise<void> {
  switch (action['action']) {
    case 'send-notification':
      return sendNotification(deps, wr, action);
    case 'update-collection-with-artifacts':
      return updateCollectionWithArtifacts(deps, wr, action);
    case 'update-collection-with-data':
      return updateCollectionWithData(deps, wr, action);
    case 'retry-with-delays':
      if (event === 'on_failure') await retryWithDelays(deps, wr, action);
      return;
    case 'skip-if-lookup-result-changed':
      return skipIfLookupResultChanged(deps, wr, action, effects);
  }
}

async function sendNotification(deps: Deps, wr: WorkRequest, action: Record<string, unknown>): Promise<void> {
  const channel = await deps.channels.get(String(action['channel']));
  if (!channel) throw new NotFoundError('Not found', `no notification channel ${String(action['channel'])}`);
  const data = (action['data'] ?? {}) as { from?: string; to?: string[]; cc?: string[]; subject?: string };
  // Recipients and sender are the channel's (an administrator's choice), never the request's.
  const envelope = notificationEnvelope(channel, data);
  if (!envelope.to.length) return;
  const subject = (data.subject ?? 'WorkRequest $work_request_id completed in $work_request_result')
    .replace('$work_request_id', String(wr.id))
    .replace('$work_request_result', wr.result || wr.status);
  await deps.notifier.send({
    ...envelope,
    subject,
    body: `Work request ${wr.id} (${wr.taskType}/${wr.taskName}) in ${wr.scope}/${wr.workspace} is ${wr.status}${wr.result ? ` with result ${wr.result}` : ''}.\n`,
  });
}

async function lookupCollection(deps: Deps, wr: WorkRequest, lookup: string) {
  const root = await rootWorkflowOf(deps, wr);
  const result = await resolveLookupSingle(
    deps,
    { scope: wr.scope, workspace: wr.workspace, caller: await creatorCaller(deps, wr), workflowRootId: root?.id },
    lookup,
    'collection',
  );
  const collection = result.collection !== null ? await deps.collections.get(result.collection) : undefined;
  if (!collection) throw new NotFoundError('Not found', `no collection ${lookup}`);
  return { collection, root };
}

async function updateCollectionWithArtifacts(deps: Deps, wr: WorkRequest, action: Record<string, unknown>): Promise<void> {
  const { collection, root } = await lookupCollection(deps, wr, String(action['collection']));
  const filters = (action['artifact_filters'] ?? {}) as Record<string, unknown>;
  const variables = (action['variables'] ?? {}) as Record<string, unknown>;
  const current = (await deps.workRequests.get(wr.id)) ?? wr;
  for (const id of current.outputArtifacts) {
    const found = await deps.artifacts.get(id);
    if (!found || !matchesFilters(found.artifact, filters)) continue;
    const vars = evaluateVariables(variables, found.artifact.data);
    const name = action['name_template'] ? render(String(action['name_template']), vars) : `artifact-${id}`;
    await addItemAsWorkflow(
      deps,
      collection,
      { name, artifact: id, data: vars },
      root?.id ?? wr.id,
      { replace: true },
    );
  }
}

async function updateCollectionWithData(deps: Deps, wr: WorkRequest, action: Record<string, unknown>): Promise<void> {
  const { collection, root } = await lookupCollection(deps, wr, String(action['collection']));
  const data = (action['data'] ?? {}) as Record<string, unknown>;
  const name = action['name_template'] ? render(String(action['name_template']), data) : `work-request-${wr.id}`;
  await addItemAsWorkflow(deps, collection, { name, category: String(action['category']), data }, root?.id ?? wr.id, { replace: true });
}

const DELAY = /^(\d+)([mhdw])$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A failed workflow child is retried after a delay (`Wait/delay` sibling), up to len(delays) times. */
async function retryWithDelays(deps: Deps, wr: WorkRequest, action: Record<string, unknown>): Promise<void> {
  const delays = (action['delays'] ?? []) as string[];
  if (wr.parent === null || wr.retryCount >= delays.length) return;
  const m = DELAY.exec(delays[wr.retryCount]!);
  if (!m) return;
  const { createDelayedSuccessor } = await import('./workflows');
  await createDelayedSuccessor(deps, wr, new Date(deps.clock.now().getTime() + Number(m[1]) * UNIT_MS[m[2]!]!));
}

async function skipIfLookupResultChanged(deps: Deps, wr: WorkRequest, action: Record<string, unknown>, effects: ReactionEffects): Promise<void> {
  const lookup = String(action['lookup']);
  const root = await rootWorkflowOf(deps, wr);
  let found: number | null = null;
  try {
    const result = await resolveLookupSingle(
      deps,
      { scope: wr.scope, workspace: wr.workspace, caller: await creatorCaller(deps, wr), workflowRootId: root?.id },
      lookup,
      'any',
    );
    found = result.collectionItem?.id ?? null;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  if (found !== (action['collection_item_id'] ?? null)) effects.skipReason = `Result of lookup '${lookup}' changed`;
}

