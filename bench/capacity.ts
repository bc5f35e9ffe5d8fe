/**
 * DynamoDB capacity units and request counts per operation, measured (not estimated): the use cases
 * of shared/app/ run in-process against the local stack's emulators with clients whose middlewares
 * tally every command and the `ConsumedCapacity` DynamoDB Local reports. S3 and SQS commands are
 * counted the same way; the client's own PUT to the presigned URL is counted by hand.
 */
import { createHash, randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createAwsDeps, readAwsConfig } from '../shared/adapters/aws';
import { createArtifact, getArtifact, type FileDeclaration } from '../shared/app/artifacts';
import { authenticate, type Caller } from '../shared/app/auth';
import { completeUpload, requestUpload, type UploadPlan } from '../shared/app/uploads';
import type { Deps } from '../shared/ports';
import { Tally, countCommands, countingDynamoClient, emptySnapshot, sum, totalRequests, type TallySnapshot } from './counters';

export const CLIENT_PUT = 'PutObject (client, presigned URL)';

export interface CountingDeps {
  deps: Deps;
  dynamo: Tally;
  s3: Tally;
  sqs: Tally;
}

export function createCountingDeps(env: Record<string, string>): CountingDeps {
  const config = readAwsConfig(env);
  const credentials = { accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? 'local', secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? 'local' };
  const region = env['AWS_REGION'] ?? 'us-east-1';
  const dynamo = new Tally();
  const s3 = new Tally();
  const sqs = new Tally();
  const dynamoClient = countingDynamoClient({ region, credentials, endpoint: env['AWS_ENDPOINT_URL_DYNAMODB'] }, dynamo);
  const s3Client = countCommands(new S3Client({ region, credentials, endpoint: env['AWS_ENDPOINT_URL_S3'], forcePathStyle: config.forcePathStyle }), s3);
  const sqsClient = countCommands(new SQSClient({ region, credentials, endpoint: env['AWS_ENDPOINT_URL_SQS'] }), sqs);
  // A copy of env: createAwsDeps then takes region, endpoints and credentials from it explicitly.
  const deps = createAwsDeps({ ...env }, { dynamoClient, s3: s3Client, sqs: sqsClient });
  return { deps, dynamo, s3, sqs };
}

/** What one operation cost, averaged over its repetitions. */
export interface OperationCost {
  label: string;
  repetitions: number;
  dynamo: TallySnapshot;
  s3: TallySnapshot;
  sqs: TallySnapshot;
  /** Min and max of (DynamoDB requests, WCU) over the repetitions: equal when the cost is constant. */
  spread: { requests: [number, number]; wcu: [number, number]; rcu: [number, number] };
}

interface Sample {
  dynamo: TallySnapshot;
  s3: TallySnapshot;
  sqs: TallySnapshot;
}

export function averageSnapshots(samples: TallySnapshot[]): TallySnapshot {
  const n = samples.length;
  const total = samples.reduce(sum, emptySnapshot());
  const scale = (counts: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, Math.round((v / n) * 100) / 100]));
  return {
    requests: scale(total.requests),
    failures: scale(total.failures),
    rcu: Math.round((total.rcu / n) * 1000) / 1000,
    wcu: Math.round((total.wcu / n) * 1000) / 1000,
    reportedWcu: Math.round((total.reportedWcu / n) * 1000) / 1000,
    unreported: total.unreported / n,
    itemsReturned: Math.round((total.itemsReturned / n) * 100) / 100,
    itemsScanned: Math.round((total.itemsScanned / n) * 100) / 100,
    rcuBilled: Math.round((total.rcuBilled / n) * 1000) / 1000,
  };
}

function summarise(label: string, samples: Sample[]): OperationCost {
  const range = (values: number[]): [number, number] => [Math.min(...values), Math.max(...values)];
  return {
    label,
    repetitions: samples.length,
    dynamo: averageSnapshots(samples.map((s) => s.dynamo)),
    s3: averageSnapshots(samples.map((s) => s.s3)),
    sqs: averageSnapshots(samples.map((s) => s.sqs)),
    spread: {
      requests: range(samples.map((s) => totalRequests(s.dynamo))),
      wcu: range(samples.map((s) => s.dynamo.wcu)),
      rcu: range(samples.map((s) => s.dynamo.rcu)),
    },
  };
}

/** Runs `prepare` uncounted, then `measured` counted; returns what `measured` cost. */
async function measure<P>(counting: CountingDeps, prepare: () => Promise<P>, measured: (prepared: P) => Promise<void>): Promise<Sample> {
  const prepared = await prepare();
  const before = { dynamo: counting.dynamo.snapshot(), s3: counting.s3.snapshot(), sqs: counting.sqs.snapshot() };
  await measured(prepared);
  return { dynamo: counting.dynamo.since(before.dynamo), s3: counting.s3.since(before.s3), sqs: counting.sqs.since(before.sqs) };
}

function newFile(size: number): { bytes: Buffer; decl: FileDeclaration } {
  const bytes = randomBytes(size);
  return { bytes, decl: { size, sha256: createHash('sha256').update(bytes).digest('hex') } };
}

/** The URL and headers of a single-PUT plan; anything else is unexpected for the small files used here. */
function singlePut(plan: UploadPlan): { url: string; headers: Record<string, string> } {
  if (plan.complete || !('method' in plan) || plan.method !== 'single') throw new Error(`expected a single-PUT upload plan, got ${JSON.stringify(plan)}`);
  return plan;
}

async function putPresigned(url: string, headers: Record<string, string>, body: Buffer): Promise<void> {
  const res = await fetch(url, { method: 'PUT', headers, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`presigned PUT answered ${res.status}: ${text.slice(0, 300)}`);
}

export interface CapacityOptions {
  env: Record<string, string>;
  scope: string;
  workspace: string;
  /** Key of an enabled token of a user with at least the uploader role in `workspace`. */
  tokenKey: string;
  /** Makes a fresh enabled token key for the same user (for first-use authentication). */
  freshTokenKey: () => Promise<string>;
  repetitions: number;
  fileSize: number;
}

export interface CapacityResults {
  operations: OperationCost[];
  /** One artifact with one file, created, uploaded and completed through 3 authenticated API requests. */
  fullSequence: OperationCost;
  /** How often the write units computed from the items matched DynamoDB Local's report on single-item writes. */
  calibration: { agree: number; total: number; mismatches: string[] };
}

export async function measureCapacity(options: CapacityOptions): Promise<CapacityResults> {
  const counting = createCountingDeps(options.env);
  const { deps } = counting;
  const { scope, workspace, repetitions, fileSize } = options;
  const caller = await authenticate(deps, options.tokenKey); // also touches the token: later calls are steady-state
  const create = (files: Record<string, FileDeclaration>) =>
    createArtifact(deps, caller, { scope, workspace, category: 'bench:capacity', data: { bench: true }, files });
  const path = 'file.bin';

  /** Creates an artifact with one new file and uploads its bytes (not counted unless inside `measure`). */
  const uploadOne = async (c: Caller): Promise<{ id: number; sha256: string }> => {
    const file = newFile(fileSize);
    const { artifact } = await createArtifact(deps, c, { scope, workspace, category: 'bench:capacity', data: {}, files: { [path]: file.decl } });
    const plan = singlePut(await requestUpload(deps, c, artifact.id, path));
    await putPresigned(plan.url, plan.headers, file.bytes);
    counting.s3.countRequest(CLIENT_PUT);
    const outcome = await completeUpload(deps, c, artifact.id, path);
    if (!outcome.complete) throw new Error('expected the upload to complete at once');
    return { id: artifact.id, sha256: file.decl.sha256 };
  };

  const repeat = async (label: string, one: () => Promise<Sample>): Promise<OperationCost> => {
    const samples: Sample[] = [];
    for (let i = 0; i < repetitions; i++) samples.push(await one());
    return summarise(label, samples);
  };

  const stored = await uploadOne(caller);
  const operations: OperationCost[] = [];

  operations.push(
    await repeat('(a) create artifact, 1 new file', () =>
      measure(counting, async () => newFile(fileSize).decl, async (decl) => void (await create({ [path]: decl }))),
    ),
  );
  operations.push(
    await repeat('(b) create artifact, 1 deduplicated file', () =>
      measure(counting, async () => ({ size: fileSize, sha256: stored.sha256 }), async (decl) => {
        const { files } = await create({ [path]: decl });
        if (!files[0]?.complete) throw new Error('expected the deduplicated file to be complete at once');
      }),
    ),
  );
  operations.push(
    await repeat('(c) create artifact, 10 new files', () =>
      measure(
        counting,
        async () => Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`file-${i}.bin`, newFile(fileSize).decl])),
        async (files) => void (await create(files)),
      ),
    ),
  );
  operations.push(
    await repeat('(d) requestUpload (single PUT plan)', () =>
      measure(
        counting,
        async () => (await create({ [path]: newFile(fileSize).decl })).artifact.id,
        async (id) => {
          singlePut(await requestUpload(deps, caller, id, path));
        },
      ),
    ),
  );
  operations.push(
    await repeat('(e) completeUpload (single PUT, verified at once)', () =>
      measure(
        counting,
        async () => {
          const file = newFile(fileSize);
          const { artifact } = await create({ [path]: file.decl });
          const plan = singlePut(await requestUpload(deps, caller, artifact.id, path));
          await putPresigned(plan.url, plan.headers, file.bytes);
          return artifact.id;
        },
        async (id) => {
          const outcome = await completeUpload(deps, caller, id, path);
          if (!outcome.complete) throw new Error('expected completeUpload to complete at once');
        },
      ),
    ),
  );
  operations.push(
    await repeat('(f) GET artifact (1 file)', () =>
      measure(counting, async () => stored.id, async (id) => void (await getArtifact(deps, caller, id))),
    ),
  );
  operations.push(
    await repeat('(g) authenticate a token (steady state)', () =>
      measure(counting, async () => options.tokenKey, async (key) => void (await authenticate(deps, key))),
    ),
  );
  operations.push(
    await repeat('(g′) authenticate a token (first use, then once per 5 min: `last_seen_at` written)', () =>
      measure(counting, options.freshTokenKey, async (key) => void (await authenticate(deps, key))),
    ),
  );

  const fullSequence = await repeat('artifact create, 1 file: 3 authenticated API requests + 1 presigned PUT', () =>
    measure(
      counting,
      async () => undefined,
      async () => {
        const c = await authenticate(deps, options.tokenKey);
        const file = newFile(fileSize);
        const { artifact } = await createArtifact(deps, c, { scope, workspace, category: 'bench:capacity', data: {}, files: { [path]: file.decl } });
        const c2 = await authenticate(deps, options.tokenKey);
        const plan = singlePut(await requestUpload(deps, c2, artifact.id, path));
        await putPresigned(plan.url, plan.headers, file.bytes);
        counting.s3.countRequest(CLIENT_PUT);
        const c3 = await authenticate(deps, options.tokenKey);
        const outcome = await completeUpload(deps, c3, artifact.id, path);
        if (!outcome.complete) throw new Error('expected completeUpload to complete at once');
      },
    ),
  );
  return { operations, fullSequence, calibration: counting.dynamo.calibration };
}

/** Failed conditional writes: AWS bills them (≥ 1 WCU for items up to 1 KB) but reports no capacity. */
export function failedConditionalWrites(snapshot: TallySnapshot): number {
  return Object.entries(snapshot.failures)
    .filter(([key]) => /ConditionalCheckFailed|TransactionCanceled/.test(key))
    .reduce((n, [, v]) => n + v, 0);
}
