/**
 * Expiry on the real local stack: the `expiry` function runs from its manifest schedule (every few
 * seconds here: CONVEYOR_DEV_SCHEDULE_SECONDS) against DynamoDB Local and s3rver.
 */
import { createHash } from 'node:crypto';
import { createAwsClients, createAwsDepsFromClients, readAwsConfig, type AwsClients } from '../../shared/adapters/aws';
import { createWorkspace, grantRole } from '../../shared/app/admin';
import { blobObjectKey } from '../../shared/domain/object-keys';
import type { Deps } from '../../shared/ports';
import { seedUsers } from '../support/world';
import { fetchClient, type FetchClient } from './http-client';
import { startLocalStack, type LocalStack } from './stack';

jest.setTimeout(300_000);

let stack: LocalStack | undefined;
let http: FetchClient;
let token: string;
let clients: AwsClients | undefined;
let deps: Deps;

beforeAll(async () => {
  // A pass every 8 s: an artifact with a 1 s delay is condemned by the first pass after it expires
  // and deleted by the next, so its upload must complete within about one period of its creation
  // (3 s was too short on a loaded machine: the artifact went before its upload-complete, a 404).
  stack = await startLocalStack({ env: { CONVEYOR_DEV_SCHEDULE_SECONDS: '8', CONVEYOR_EXPIRY_BLOB_GRACE_SECONDS: '2' } });
  http = fetchClient(stack.url);
  clients = createAwsClients(stack.env);
  deps = createAwsDepsFromClients(readAwsConfig(stack.env), clients);
  token = (await seedUsers(deps))['owner']!;
}, 240_000);

afterAll(async () => {
  clients?.dynamo.destroy();
  clients?.s3.destroy();
  clients?.s3Presigner.destroy();
  clients?.sqs.destroy();
  await stack?.stop();
}, 120_000);

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Creates an artifact holding `content` as `f` and uploads it through the presigned URL. */
async function storedArtifact(workspace: string, content: string, delay?: number): Promise<number> {
  const bytes = Buffer.from(content);
  const created = await http('POST', '/api/1.0/artifact/', {
    token,
    body: { category: 'testing', workspace, data: {}, files: { f: { type: 'file', size: bytes.length, checksums: { sha256: sha(bytes) } } }, ...(delay === undefined ? {} : { expiration_delay: delay }) },
  });
  expect(created.status).toBe(201);
  const id = created.json.id as number;
  const plan = await http('POST', `/api/1.0/artifact/${id}/upload/f/`, { token, body: {} });
  if (!plan.json.complete) {
    const put = await fetch(plan.json.url, { method: 'PUT', headers: plan.json.headers, body: bytes });
    expect(put.status).toBe(200);
    expect((await http('POST', `/api/1.0/artifact/${id}/upload-complete/f/`, { token, body: {} })).status).toBe(201);
  }
  return id;
}

async function until(what: string, check: () => Promise<boolean>, seconds = 120): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`timed out waiting until ${what}`);
}

const objectExists = async (content: string) => (await deps.files.head(blobObjectKey(sha(Buffer.from(content)), Buffer.byteLength(content)))) !== undefined;
const status = async (id: number) => (await http('GET', `/api/1.0/artifact/${id}/`, { token })).status;

test('an artifact with a 1 s delay goes with its bytes; one a kept artifact relates to stays; bytes another workspace holds stay', async () => {
  const doomedContent = `doomed ${Date.now()}`;
  const doomed = await storedArtifact('priv', doomedContent, 1);
  // Long enough to relate to it before it expires (a pass would condemn, i.e. freeze, it).
  const target = await storedArtifact('priv', `target ${Date.now()}`, 30);
  const keeper = await storedArtifact('priv', `keeper ${Date.now()}`);
  expect((await http('POST', '/api/1.0/artifact-relation/', { token, body: { artifact: keeper, target, type: 'built-using' } })).status).toBe(201);
  const shared = `shared ${Date.now()}`;
  const sharedHere = await storedArtifact('priv', shared, 1);
  const sharedThere = await storedArtifact('pub', shared);

  await until('the expired artifacts are deleted', async () => (await status(doomed)) === 404 && (await status(sharedHere)) === 404);
  await until('the expired bytes are deleted', async () => !(await objectExists(doomedContent)));

  // The target expires too, and outlives several passes: a kept artifact relates to it.
  await until('the related artifact has expired', async () => (await http('GET', `/api/1.0/artifact/${target}/`, { token })).json.retention.expired === true);
  await new Promise((r) => setTimeout(r, 20_000)); // two passes at least
  const kept = await http('GET', `/api/1.0/artifact/${target}/`, { token });
  expect(kept.status).toBe(200);
  expect(kept.json.retention).toMatchObject({ expired: true, kept: true, kept_because: expect.stringContaining(`root: artifact ${keeper}`) });
  expect(await status(sharedThere)).toBe(200);
  expect(await objectExists(shared)).toBe(true);
  const download = await http('GET', `/api/1.0/artifact/${sharedThere}/files/f/`, { token });
  expect(download.status).toBe(302);
  const entries = await deps.audit.list({ limit: 100 });
  expect(entries.items.filter((e) => e.action === 'artifact.expired').map((e) => e.details.artifact)).toEqual(expect.arrayContaining([doomed, sharedHere]));
});

test('a workspace with an expiration_delay goes with its artifact and that artifact\'s bytes', async () => {
  const name = `short-${Date.now()}`;
  await createWorkspace(deps, 'test', { name, expirationDelay: 20 });
  await grantRole(deps, 'test', { workspace: name, username: 'owner', role: 'owner' });
  const content = `in a short-lived workspace ${Date.now()}`;
  const id = await storedArtifact(name, content); // no delay of its own: it goes with its workspace
  expect(await status(id)).toBe(200);
  await until('the workspace is deleted', async () => (await deps.identity.getWorkspace('debusine', name)) === undefined);
  expect(await status(id)).toBe(404);
  expect(await deps.artifacts.list({ scope: 'debusine', workspace: name, limit: 10 })).toMatchObject({ items: [] });
  await until('its bytes are deleted', async () => !(await objectExists(content)));
  const actions = (await deps.audit.list({ limit: 200 })).items.filter((e) => e.details.workspace === name).map((e) => e.action);
  expect(actions).toEqual(expect.arrayContaining(['artifact.expired', 'workspace.expired']));
});
