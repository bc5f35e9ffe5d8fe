/**
 * The one declaration of Conveyor's deployable pieces: tables, queues, functions
 * and their triggers. The CDK stacks (infra/) and the local stack (cli/dev/) are both
 * built from this file, so the cloud and the local stack cannot drift apart.
 *
 * Nothing here imports handler code or an AWS SDK: infra and the local stack load it cheaply.
 */

export interface GlobalSecondaryIndexSpec {
  name: string;
  partitionKey: string;
  sortKey: string;
}

export interface TableSpec {
  /** Logical name; the physical name comes from the environment variable `envVar`. */
  name: TableName;
  envVar: string;
  partitionKey: string;
  sortKey: string;
  indexes: GlobalSecondaryIndexSpec[];
  /** Attribute holding an epoch-seconds expiry: a garbage backstop only, never relied upon. */
  ttlAttribute?: string;
}

export type TableName = 'main' | 'audit';

export const TABLES: Record<TableName, TableSpec> = {
  main: {
    name: 'main',
    envVar: 'CONVEYOR_TABLE_MAIN',
    partitionKey: 'pk',
    sortKey: 'sk',
    indexes: [
      { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
      { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
    ],
    ttlAttribute: 'ttl',
  },
  audit: {
    name: 'audit',
    envVar: 'CONVEYOR_TABLE_AUDIT',
    partitionKey: 'pk',
    sortKey: 'sk',
    indexes: [],
  },
};

export type QueueName = 'file-verification';

export interface QueueSpec {
  name: QueueName;
  envVar: string;
  fifo: boolean;
  /** Deliveries before a message moves to the dead-letter queue (DESIGN: at least 5). */
  maxReceiveCount: number;
}

export const QUEUES: Record<QueueName, QueueSpec> = {
  // Full-object SHA-256 checks that need the bytes read back (multipart uploads, and every
  // upload on the local stack, whose S3 emulator checks nothing): too slow for a request.
  'file-verification': { name: 'file-verification', envVar: 'CONVEYOR_QUEUE_FILE_VERIFICATION_URL', fifo: false, maxReceiveCount: 5 },
};

export const BUCKET_ENV_VAR = 'CONVEYOR_BUCKET';
/** How uploaded bytes are checked: `checksum` trusts S3's SHA-256 check (AWS), `readback` hashes the object (s3rver). */
export const VERIFY_MODE_ENV_VAR = 'CONVEYOR_S3_VERIFY';

export type Access = 'read' | 'readwrite';

export interface FunctionSpec {
  /** Logical name, also the CDK construct id. */
  name: string;
  /** Entry file relative to the repository root; it exports `handler`. */
  entry: string;
  description: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** HTTP API routes, as API Gateway route keys ("METHOD /path/{param}/{greedy+}"). */
  routes?: string[];
  queue?: { name: QueueName; batchSize: number; maxBatchingWindowSeconds: number };
  schedule?: { id: string; rateMinutes: number };
  uses: {
    tables: Partial<Record<TableName, Access>>;
    bucket?: Access;
    /** Queues this function sends to (consumption is implied by `queue`). */
    sendsTo?: QueueName[];
  };
}

const API_TIMEOUT = 29; // API Gateway's integration limit

export const FUNCTIONS: FunctionSpec[] = [
  {
    name: 'identity-api',
    entry: 'functions/identity-api.ts',
    description: 'whoami and the read side of tenancy (workspaces visible to the caller)',
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 512,
    routes: ['GET /api/1.0/whoami/', 'GET /api/1.0/workspace/'],
    uses: { tables: { main: 'readwrite' } },
  },
  {
    name: 'artifacts-api',
    entry: 'functions/artifacts-api.ts',
    description: 'Artifacts, files, relations, presigned uploads and downloads',
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 1024,
    routes: [
      'POST /api/1.0/artifact/',
      'GET /api/1.0/artifact/',
      'GET /api/1.0/artifact/{id}/',
      'PATCH /api/1.0/artifact/{id}/',
      'DELETE /api/1.0/artifact/{id}/',
      'PUT /api/1.0/artifact/{id}/files/{path+}',
      'GET /api/1.0/artifact/{id}/files/{path+}',
      'POST /api/1.0/artifact/{id}/attach/',
      'DELETE /api/1.0/artifact/{id}/files/{path+}',
      'POST /api/1.0/artifact/{id}/upload/{path+}',
      'POST /api/1.0/artifact/{id}/upload-complete/{path+}',
      'GET /api/1.0/artifact/{id}/download/',
      'GET /api/1.0/artifact-relation/',
      'POST /api/1.0/artifact-relation/',
      'DELETE /api/1.0/artifact-relation/{id}/',
    ],
    uses: { tables: { main: 'readwrite', audit: 'readwrite' }, bucket: 'readwrite', sendsTo: ['file-verification'] },
  },
  {
    name: 'file-verifier',
    entry: 'functions/file-verifier.ts',
    description: 'Reads uploaded objects back to check their SHA-256 and marks files complete',
    timeoutSeconds: 900,
    memoryMb: 1024,
    queue: { name: 'file-verification', batchSize: 1, maxBatchingWindowSeconds: 0 },
    uses: { tables: { main: 'readwrite' }, bucket: 'readwrite' },
  },
];

/** Every route with the function that serves it: the one table a reader looks routes up in. */
export function routeTable(): { routeKey: string; functionName: string }[] {
  return FUNCTIONS.flatMap((f) => (f.routes ?? []).map((routeKey) => ({ routeKey, functionName: f.name })));
}

/**
 * API Gateway HTTP APIs refuse route paths ending in "/", while Debusine's paths all do:
 * the cloud deploys "GET /api/1.0/whoami" and hands the function that route key. Handlers
 * therefore dispatch on this canonical form, which both the cloud and the local gateway map to.
 */
export function canonicalRouteKey(routeKey: string): string {
  return routeKey.length > 1 && routeKey.endsWith('/') && !routeKey.endsWith(' /') ? routeKey.slice(0, -1) : routeKey;
}
