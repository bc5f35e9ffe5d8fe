/**
 * Security findings 5 and 6: bounded lists answered with 400/413 problem+json naming the limit,
 * and a file whose verification could not be queued is not stuck "verifying".
 */
import { MAX_FILES_PER_ARTIFACT, MAX_LOOKUPS_PER_LIST, MAX_REACTIONS_PER_EVENT, MAX_WORKFLOW_ARCHITECTURES } from '../../../shared/domain/limits';
import { VERIFICATION_REQUEUE_AFTER_MS } from '../../../shared/app/uploads';
import { createTemplate } from '../../../shared/app/workflow-templates';
import { createArtifact } from '../../../shared/app/artifacts';
import { createWorld, httpClient, sha256, type World } from '../../support/world';
import { workApiClient } from '../../support/work-api';

let world: World;
let http: ReturnType<typeof httpClient>;
beforeEach(async () => {
  world = await createWorld();
  http = httpClient(world.deps);
});

const decl = (b: Buffer | string) => ({ type: 'file', size: Buffer.from(b).length, checksums: { sha256: sha256(b) } });

function expectLimitProblem(res: { status: number; headers: Record<string, string>; json: any }, status: number, limit: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(JSON.stringify(res.json)).toContain(limit);
}

it('binary_artifacts is bounded by MAX_LOOKUPS_PER_LIST (400) and nothing is stored', async () => {
  const work = workApiClient(world.deps);
  const res = await work('POST', '/api/1.0/work-request/', {
    token: world.keys['contributor'],
    body: { workspace: 'priv', task_name: 'lintian', task_data: { input: { binary_artifacts: Array.from({ length: MAX_LOOKUPS_PER_LIST + 1 }, (_, i) => i + 1) } } },
  });
  expectLimitProblem(res, 400, 'MAX_LOOKUPS_PER_LIST');
  expect(world.deps.workRequests.items.size).toBe(0);
});

it('event reactions per event are bounded by MAX_REACTIONS_PER_EVENT (400 naming the field)', async () => {
  const work = workApiClient(world.deps);
  const reactions = Array.from({ length: MAX_REACTIONS_PER_EVENT + 1 }, () => ({ action: 'send-notification', channel: 'x' }));
  const res = await work('POST', '/api/1.0/work-request/', {
    token: world.keys['contributor'],
    body: { workspace: 'priv', task_name: 'noop', task_data: {}, event_reactions: { on_success: reactions } },
  });
  expectLimitProblem(res, 400, 'MAX_REACTIONS_PER_EVENT');
  expect(Object.keys(res.json.validation_errors)).toEqual(['event_reactions.on_success']);
});

it('build-and-lint architectures are bounded by MAX_WORKFLOW_ARCHITECTURES', async () => {
  const owner = await world.caller('owner');
  const architectures = Array.from({ length: MAX_WORKFLOW_ARCHITECTURES + 1 }, (_, i) => `arch${i}`);
  await expect(
    createTemplate(world.deps, owner, { scope: 'debusine', workspace: 'priv', name: 'bl', taskName: 'build-and-lint', taskData: { package: 'hello', version: '1.0', architectures } }),
  ).rejects.toThrow(/MAX_WORKFLOW_ARCHITECTURES/);
});

it('attaching files beyond MAX_FILES_PER_ARTIFACT in total is 413 naming the limit, and attaches nothing', async () => {
  // Created through the use case: a JSON body declaring 10,000 files is above the HTTP body limit.
  const files = Object.fromEntries(Array.from({ length: MAX_FILES_PER_ARTIFACT }, (_, i) => [`f${i}`, { size: 0, sha256: sha256('') }]));
  const created = await createArtifact(world.deps, await world.caller('contributor'), { scope: 'debusine', workspace: 'priv', category: 'testing', data: {}, files });
  const id = created.artifact.id;
  const res = await http('POST', `/api/1.0/artifact/${id}/attach/`, { token: world.keys['contributor'], body: { files: { extra: decl('x') } } });
  expectLimitProblem(res, 413, 'MAX_FILES_PER_ARTIFACT');
  expect((await world.deps.artifacts.get(id))!.files).toHaveLength(MAX_FILES_PER_ARTIFACT);
}, 30_000);

it('a file whose verification cannot be queued is not left "verifying"; a lost check is queued again', async () => {
  const bytes = Buffer.from('bytes checked in the background');
  const token = world.keys['contributor']!;
  const created = await http('POST', '/api/1.0/artifact/', { token, body: { category: 'testing', workspace: 'priv', data: {}, files: { f: decl(bytes) } } });
  const id = created.json.id as number;
  const plan = await http('POST', `/api/1.0/artifact/${id}/upload/f/`, { token, body: {} });
  world.deps.files.clientPut(plan.json.url, bytes);
  // The store cannot check at once (as on AWS for a big object): the check goes to the queue.
  world.deps.files.verify = (async () => 'unknown') as unknown as typeof world.deps.files.verify;
  const enqueue = world.deps.queues.enqueueFileVerification.bind(world.deps.queues);
  world.deps.queues.enqueueFileVerification = async () => {
    throw new Error('queue unavailable');
  };
  const failed = await http('POST', `/api/1.0/artifact/${id}/upload-complete/f/`, { token, body: {} });
  expect(failed.status).toBe(500);
  expect((await world.deps.artifacts.get(id))!.files[0]!.upload).not.toHaveProperty('verifying');
  // The client retries once the queue is back: the check is queued.
  world.deps.queues.enqueueFileVerification = enqueue;
  expect((await http('POST', `/api/1.0/artifact/${id}/upload-complete/f/`, { token, body: {} })).status).toBe(202);
  expect(world.deps.queues.fileVerification).toHaveLength(1);
  // Asking again soon queues nothing more; after VERIFICATION_REQUEUE_AFTER_MS the lost check is queued again.
  await http('POST', `/api/1.0/artifact/${id}/upload-complete/f/`, { token, body: {} });
  expect(world.deps.queues.fileVerification).toHaveLength(1);
  world.deps.clock.advance(VERIFICATION_REQUEUE_AFTER_MS);
  await http('POST', `/api/1.0/artifact/${id}/upload-complete/f/`, { token, body: {} });
  expect(world.deps.queues.fileVerification).toHaveLength(2);
});
