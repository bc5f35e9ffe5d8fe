/**
 * Hi/lo id allocation (shared/adapters/dynamodb/id-blocks.ts): writes to the work-request id counter
 * (`SEQ#work-request`) per created request. Requests are created through the use case
 * (`createWorkRequest`) by a fresh deps (a fresh function instance: its first create reserves a
 * block), over a DynamoDB client whose middleware counts the writes that touch the counter item.
 * The requests are aborted afterwards (not counted), so that no later section finds them pending.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createAwsDeps } from '../shared/adapters/aws';
import { ID_BLOCK_SIZES } from '../shared/adapters/dynamodb/id-blocks';
import { authenticate } from '../shared/app/auth';
import { abortWorkRequest, createWorkRequest } from '../shared/app/work-requests';
import { DEFAULT_SCOPE } from '../shared/domain/tenancy';
import { fmt } from './stats';

export interface IdBlockResults {
  requests: number;
  counterWrites: number;
  blockSize: number;
  /** Distinct ids handed out, and whether they increased in creation order. */
  distinctIds: number;
  increasing: boolean;
}

export async function measureIdBlocks(env: Record<string, string>, options: { userToken: string; workspace: string; requests: number }): Promise<IdBlockResults> {
  const region = env['AWS_REGION'] ?? 'us-east-1';
  const credentials = { accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? 'local', secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? 'local' };
  const dynamo = new DynamoDBClient({ region, credentials, endpoint: env['AWS_ENDPOINT_URL_DYNAMODB'] });
  let counterWrites = 0;
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      // The document client's command may reach this step before or after marshalling: accept both key forms.
      const pk = (args.input as { Key?: { pk?: string | { S?: string } } }).Key?.pk;
      const key = typeof pk === 'string' ? pk : pk?.S;
      if (/^Update(Item)?Command$/.test(context.commandName ?? '') && key === 'SEQ#work-request') counterWrites += 1;
      return next(args);
    },
    { step: 'initialize', name: 'benchCounterWrites' },
  );
  const deps = createAwsDeps({ ...env }, { dynamoClient: dynamo });
  const caller = await authenticate(deps, options.userToken);
  const ids: number[] = [];
  try {
    for (let i = 0; i < options.requests; i++) {
      const wr = await createWorkRequest(deps, caller, { scope: DEFAULT_SCOPE, workspace: options.workspace, taskName: 'noop', taskData: {} });
      ids.push(wr.id);
    }
  } finally {
    const written = counterWrites;
    for (const id of ids) await abortWorkRequest(deps, caller, id).catch(() => undefined);
    counterWrites = written;
    dynamo.destroy();
  }
  return {
    requests: ids.length,
    counterWrites,
    blockSize: ID_BLOCK_SIZES['work-request'] ?? 1,
    distinctIds: new Set(ids).size,
    increasing: ids.every((id, i) => i === 0 || id > ids[i - 1]!),
  };
}

export function renderIdBlocksSection(r: IdBlockResults, command: string): string {
  const perRequest = r.requests === 0 ? 0 : r.counterWrites / r.requests;
  return [
    '## Id allocation: counter writes per created request (hi/lo)',
    '',
    `\`${command}\`. ${r.requests} \`noop\` requests created one after the other through \`createWorkRequest\` by a fresh deps (one function instance, its first create included), on the local stack's DynamoDB Local; writes to the counter item \`SEQ#work-request\` counted by an SDK middleware.`,
    '',
    '| created requests | counter writes | **counter writes per created request** | block size | distinct ids | increasing in creation order |',
    '| ---: | ---: | ---: | ---: | ---: | --- |',
    `| ${r.requests} | ${r.counterWrites} | **${fmt(perRequest, 3)}** | ${r.blockSize} | ${r.distinctIds} | ${r.increasing ? 'yes' : 'no'} |`,
    '',
    `- One counter write reserves a block of ${r.blockSize} ids (\`ADD value :${r.blockSize}\`); the instance hands them out in memory. Ids stay unique across instances (each block is one atomic write) and increase within an instance; ids of a block an instance never uses are gaps, never reused.`,
    '- Before: one counter write per created request (1.00), all on one item for the whole service (≈ 1,000 writes/s per partition: docs/scale.md).',
  ].join('\n');
}
