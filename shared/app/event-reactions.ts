/**
 * Event reactions (reference/debusine.md §4): what a work request does on creation, unblock,
 * assignment, success and failure. The actions are typed and ordered in
 * shared/domain/event-reactions.ts; this module does their I/O. A delayed retry is handed to the
 * orchestrator (it changes the workflow graph, so it runs in its root's FIFO group).
 */
import { NotFoundError } from '../domain/errors';
import {
  evaluateVariables,
  matchesArtifactFilters,
  notificationBody,
  notificationSubject,
  reactionsFor,
  renderTemplate,
  retryDelayUntil,
  type ReactionAction,
  type ReactionOf,
} from '../domain/event-reactions';
import type { EventName, WorkRequest } from '../domain/work-requests';
import type { Deps } from '../ports';
import { lookupContextOf, rootWorkflowOf } from './acting-as';
import { addItemAsWorkflow } from './collections';
import { withRetries } from './concurrency';
import { resolveLookupSingle } from './lookups';
import { notificationEnvelope } from './notification-policy';

/** The lookup of a root workflow's internal collection, as workflows write it. */
const INTERNAL_COLLECTIONS_LOOKUP = 'internal@collections';

export interface ReactionFailure {
  action: unknown;
  error: unknown;
}

export interface ReactionEffects {
  /** Set when `skip-if-lookup-result-changed` decided the request must not run. */
  skipReason?: string;
  /** Actions that failed or are malformed; the others still ran (a broken reaction must not wedge the request). */
  failures: ReactionFailure[];
}

export async function runEventReactions(deps: Deps, wr: WorkRequest, event: EventName): Promise<ReactionEffects> {
  const { actions, invalid } = reactionsFor(wr, event);
  const effects: ReactionEffects = {
    failures: invalid.map((i) => ({ action: i.action, error: new Error(`malformed event reaction: ${i.problem}`) })),
  };
  for (const action of actions) {
    try {
      // Each action is idempotent (collection items are replaced, retries check `supersededBy`):
      // a lost race retries that action alone.
      await withRetries(() => runAction(deps, wr, event, action, effects));
    } catch (error) {
      // Debusine reports reaction errors and carries on: the caller decides how to report them.
      effects.failures.push({ action: action.action, error });
    }
  }
  return effects;
}

async function runAction(deps: Deps, wr: WorkRequest, event: EventName, action: ReactionAction, effects: ReactionEffects): Promise<void> {
  switch (action.action) {
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

async function sendNotification(deps: Deps, wr: WorkRequest, action: ReactionOf<'send-notification'>): Promise<void> {
  const channel = await deps.channels.get(action.channel);
  if (!channel) throw new NotFoundError('Not found', `no notification channel ${action.channel}`);
  // Recipients and sender are the channel's (an administrator's choice), never the request's.
  const envelope = notificationEnvelope(channel, action.data ?? {});
  if (!envelope.to.length) return;
  await deps.notifier.send({
    ...envelope,
    subject: notificationSubject(wr, action.data?.subject),
    body: notificationBody(wr),
  });
}

/**
 * The collection a reaction updates, found as the request's creator (a disabled creator's reactions
 * are refused: CreatorDisabledError). One exception: `internal@collections`, the root workflow's own
 * scratch collection, is the workflow's and is written without acting for anyone, so that a creator
 * disabled while a child runs does not lose the workflow's promised outputs.
 */
async function lookupCollection(deps: Deps, wr: WorkRequest, lookup: string) {
  const root = await rootWorkflowOf(deps, wr);
  const ownInternal = lookup === INTERNAL_COLLECTIONS_LOOKUP ? root?.internalCollection ?? null : null;
  const id = ownInternal ?? (await resolveLookupSingle(deps, await lookupContextOf(deps, wr, root), lookup, 'collection')).collection;
  const collection = id !== null ? await deps.collections.get(id) : undefined;
  if (!collection) throw new NotFoundError('Not found', `no collection ${lookup}`);
  return { collection, root };
}

async function updateCollectionWithArtifacts(deps: Deps, wr: WorkRequest, action: ReactionOf<'update-collection-with-artifacts'>): Promise<void> {
  const { collection, root } = await lookupCollection(deps, wr, action.collection);
  const current = (await deps.workRequests.get(wr.id)) ?? wr;
  for (const id of current.outputArtifacts) {
    const found = await deps.artifacts.get(id);
    if (!found || !matchesArtifactFilters(found.artifact, action.artifact_filters)) continue;
    const vars = evaluateVariables(action.variables, found.artifact.data);
    const name = action.name_template ? renderTemplate(action.name_template, vars) : `artifact-${id}`;
    await addItemAsWorkflow(deps, collection, { name, artifact: id, data: vars }, root?.id ?? wr.id, { replace: true });
  }
}

async function updateCollectionWithData(deps: Deps, wr: WorkRequest, action: ReactionOf<'update-collection-with-data'>): Promise<void> {
  const { collection, root } = await lookupCollection(deps, wr, action.collection);
  const name = action.name_template ? renderTemplate(action.name_template, action.data) : `work-request-${wr.id}`;
  await addItemAsWorkflow(deps, collection, { name, category: action.category, data: action.data }, root?.id ?? wr.id, { replace: true });
}

/** A failed workflow child is retried after a delay: the orchestrator adds the `Wait/delay` sibling and the successor. */
async function retryWithDelays(deps: Deps, wr: WorkRequest, action: ReactionOf<'retry-with-delays'>): Promise<void> {
  if (!retryDelayUntil(wr, action)) return;
  const root = await rootWorkflowOf(deps, wr);
  if (root) await deps.queues.enqueueOrchestration({ rootId: root.id, kind: 'retry-delayed', workRequestId: wr.id });
}

async function skipIfLookupResultChanged(deps: Deps, wr: WorkRequest, action: ReactionOf<'skip-if-lookup-result-changed'>, effects: ReactionEffects): Promise<void> {
  let found: number | null = null;
  try {
    const result = await resolveLookupSingle(deps, await lookupContextOf(deps, wr), action.lookup, 'any');
    found = result.collectionItem?.id ?? null;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  if (found !== action.collection_item_id) effects.skipReason = `Result of lookup '${action.lookup}' changed`;
}
