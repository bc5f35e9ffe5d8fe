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
  /** Non-key attributes the index carries; absent: all of them (ProjectionType ALL). */
  projection?: { include: string[] };
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

export type TableName = 'main' | 'audit' | 'connections';

export const TABLES: Record<TableName, TableSpec> = {
  main: {
    name: 'main',
    envVar: 'CONVEYOR_TABLE_MAIN',
    partitionKey: 'pk',
    sortKey: 'sk',
    indexes: [
      { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
      { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
      { name: 'gsi3', partitionKey: 'gsi3pk', sortKey: 'gsi3sk' },
      // The work-request listing: only attributes that never change after create, so a state change
      // of a request does not rewrite its entry (docs/decisions.md, "work-request listing on its own index").
      { name: 'gsi4', partitionKey: 'gsi4pk', sortKey: 'gsi4sk', projection: { include: ['workspace', 'taskName'] } },
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
  // Open WebSockets of Debusine's protocol (workers, on-completed listeners); gsi1 finds a worker's
  // connections and the listeners. API Gateway closes every socket within 2 hours: the TTL is a backstop.
  connections: {
    name: 'connections',
    envVar: 'CONVEYOR_TABLE_CONNECTIONS',
    partitionKey: 'pk',
    sortKey: 'sk',
    indexes: [{ name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' }],
    ttlAttribute: 'ttl',
  },
};

/**
 * Where functions post to WebSockets: API Gateway's management endpoint of the WebSocket API
 * (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`), or the local gateway's URL.
 */
export const WS_MANAGEMENT_ENDPOINT_ENV_VAR = 'CONVEYOR_WS_MANAGEMENT_ENDPOINT';

export type QueueName = 'file-verification' | 'scheduler' | 'heartbeats' | 'server-tasks' | 'orchestrator' | 'accounting' | 'socket-greetings' | 'debusine-ranges' | 'recurring-runs';

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
  // "Look again" nudges for the scheduler (request pending or finished, worker available). Every
  // batch triggers one full, bounded scheduling pass, so order and duplicates do not matter.
  scheduler: { name: 'scheduler', envVar: 'CONVEYOR_QUEUE_SCHEDULER_URL', fifo: false, maxReceiveCount: 5 },
  // Heartbeats accepted by the API (202), applied in batches; newer-wins, so order does not matter.
  heartbeats: { name: 'heartbeats', envVar: 'CONVEYOR_QUEUE_HEARTBEATS_URL', fifo: false, maxReceiveCount: 5 },
  // Server tasks (e.g. servernoop), one request per message, run by their own function.
  'server-tasks': { name: 'server-tasks', envVar: 'CONVEYOR_QUEUE_SERVER_TASKS_URL', fifo: false, maxReceiveCount: 5 },
  // Workflow orchestration steps (populate, callback, child finished). FIFO with the root workflow as
  // message group: one step per root at a time, in order; different roots run in parallel.
  orchestrator: { name: 'orchestrator', envVar: 'CONVEYOR_QUEUE_ORCHESTRATOR_URL', fifo: true, maxReceiveCount: 5 },
  // Usage changes (artifact files, finished work requests) for quota accounting, off the request
  // path. Order and duplicates do not matter: the consumer syncs each source to its present state.
  accounting: { name: 'accounting', envVar: 'CONVEYOR_QUEUE_ACCOUNTING_URL', fifo: false, maxReceiveCount: 5 },
  // Greetings of new WebSockets (`connected`, or the rejection): nothing can be sent during `$connect`.
  'socket-greetings': { name: 'socket-greetings', envVar: 'CONVEYOR_QUEUE_SOCKET_GREETINGS_URL', fifo: false, maxReceiveCount: 5 },
  // S3's notifications of ranges that Debusine's client PUT through CloudFront straight into the bucket
  // (shared/formats/debusine-range-edge.ts): each is checked, and the last one assembles the file.
  'debusine-ranges': { name: 'debusine-ranges', envVar: 'CONVEYOR_QUEUE_DEBUSINE_RANGES_URL', fifo: false, maxReceiveCount: 5 },
  // A recurring run's request started or finished where the run is not written at once (the work-requests
  // API): the recurring-release function applies the request's present state to the run, so order and
  // duplicates do not matter.
  'recurring-runs': { name: 'recurring-runs', envVar: 'CONVEYOR_QUEUE_RECURRING_RUNS_URL', fifo: false, maxReceiveCount: 5 },
};

export const BUCKET_ENV_VAR = 'CONVEYOR_BUCKET';
/** How uploaded bytes are checked: `checksum` trusts S3's SHA-256 check (AWS), `readback` hashes the object (s3rver). */
export const VERIFY_MODE_ENV_VAR = 'CONVEYOR_S3_VERIFY';

/**
 * Every worker has its own SQS queue `<prefix><worker name>`, created at registration (not declared
 * here: workers come and go). The cloud scopes IAM to `arn:aws:sqs:<region>:<account>:<prefix>*`.
 */
export const WORKER_QUEUE_PREFIX_ENV_VAR = 'CONVEYOR_WORKER_QUEUE_PREFIX';
export const DEFAULT_WORKER_QUEUE_PREFIX = 'conveyor-worker-';
/** The role a function assumes to hand a worker credentials limited to its own queue (cloud only). */
export const WORKER_QUEUE_ROLE_ENV_VAR = 'CONVEYOR_WORKER_QUEUE_ROLE_ARN';

/** Default sender of notification e-mails (a channel's `from` wins); an SES-verified identity in the cloud. */
export const NOTIFY_FROM_ENV_VAR = 'CONVEYOR_NOTIFY_FROM';
/** Local stack only: notifications are appended to this mbox file instead of being sent through SES. */
export const MAILBOX_FILE_ENV_VAR = 'CONVEYOR_MAILBOX_FILE';

/** `append`: PutItem only (the audit log: entries are added, never changed or deleted). */
export type Access = 'read' | 'readwrite' | 'append';

/** `manage`: create worker queues, send to them and hand out access to one; `send`: send only. */
export type WorkerQueueAccess = 'manage' | 'send';

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
  /** WebSocket API routes (`$connect`, `$disconnect`, `$default`): Debusine's `/api/ws/…` endpoints. */
  websocketRoutes?: string[];
  queue?: {
    name: QueueName;
    batchSize: number;
    maxBatchingWindowSeconds: number;
    /** Most concurrent invocations the event source starts (Lambda: 2-1000; default unlimited). */
    maxConcurrency?: number;
  };
  schedule?: { id: string; rateMinutes: number };
  uses: {
    tables: Partial<Record<TableName, Access>>;
    bucket?: Access;
    /** Queues this function sends to (consumption is implied by `queue`). */
    sendsTo?: QueueName[];
    /** The per-worker queues (see WORKER_QUEUE_PREFIX_ENV_VAR). */
    workerQueues?: WorkerQueueAccess;
    /** Reads the WebSocket connections table and posts to sockets (API Gateway's management API). */
    sockets?: true;
    /**
     * Sends notification e-mails (send-notification event reactions, fired when work requests
     * finish): `ses:SendEmail`, and NOTIFY_FROM_ENV_VAR when the deployment names a sender.
     */
    sendsEmail?: true;
  };
}

const API_TIMEOUT = 29; // API Gateway's integration limit

/**
 * What a function that finishes work requests uses: finishing one unblocks dependents (the scheduler
 * is nudged), orchestrates its root workflow, records accounting and may send notification e-mail.
 */
const FINISHES_WORK_REQUESTS: FunctionSpec['uses'] = { tables: { main: 'readwrite' }, sendsTo: ['scheduler', 'orchestrator', 'accounting'], sendsEmail: true };

/**
 * A function fed by its queue (in batches) and also run by `timer`, whose pass catches up on what no
 * message asked for (the scheduler's tick, the accountant's recompute). Its entry file is
 * functions/<name>.ts, as every function's. Free of side effects, so FUNCTIONS stays droppable.
 */
/* @__NO_SIDE_EFFECTS__ */
function queueAndTimerConsumer(
  name: string,
  timer: NonNullable<FunctionSpec['schedule']>,
  spec: Omit<FunctionSpec, 'name' | 'entry' | 'schedule'> & Required<Pick<FunctionSpec, 'queue'>>,
): FunctionSpec {
  return { name, entry: `functions/${name}.ts`, ...spec, schedule: timer };
}

/**
 * A function that reads stored bytes back to check them, a whole file at worst: one message per
 * invocation, Lambda's longest timeout, the bucket to read and write, and accounting for the bytes
 * it marks complete. Its entry file is functions/<name>.ts.
 */
/* @__NO_SIDE_EFFECTS__ */
function storedBytesChecker(name: string, queue: QueueName, description: string): FunctionSpec {
  return {
    name,
    entry: `functions/${name}.ts`,
    description,
    timeoutSeconds: 900,
    memoryMb: 1024,
    queue: { name: queue, batchSize: 1, maxBatchingWindowSeconds: 0 },
    uses: { tables: { main: 'readwrite' }, bucket: 'readwrite', sendsTo: ['accounting'] },
  };
}

/**
 * Pure (no top-level statement changes it), so that a Lambda bundle that imports a constant of this
 * file leaves the whole list out (about 10 KB); add functions inside the list or in
 * withWebSocketFunctions, never with a top-level FUNCTIONS.push (test/unit/function-bundles.test.ts).
 */
export const FUNCTIONS: FunctionSpec[] = /* @__PURE__ */ withWebSocketFunctions([
  {
    name: 'identity-api',
    entry: 'functions/identity-api.ts',
    description: 'whoami and the read side of tenancy (workspaces visible to the caller)',
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 512,
    routes: ['GET /api/1.0/whoami/', 'GET /api/1.0/workspace/', 'GET /api/1.0/openapi.json'],
    uses: { tables: { main: 'readwrite' } },
  },
  {
    name: 'artifacts-api',
    entry: 'functions/artifacts-api.ts',
    description: 'Artifacts, files, relations, presigned uploads and downloads; collections and lookups',
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
      'GET /api/1.0/collection/',
      'POST /api/1.0/collection/',
      'GET /api/1.0/collection/{id}/',
      'GET /api/1.0/collection/{id}/items/',
      'POST /api/1.0/collection/{id}/items/',
      'DELETE /api/1.0/collection/{id}/items/{name}/',
      'POST /api/1.0/lookup/single/',
      'POST /api/1.0/lookup/multiple/',
    ],
    uses: { tables: { main: 'readwrite', audit: 'append' }, bucket: 'readwrite', sendsTo: ['file-verification', 'accounting'] },
  },
  {
    name: 'work-requests-api',
    entry: 'functions/work-requests-api.ts',
    description: 'Work requests: create, list, show, priority, retry, abort, unblock; worker get-next, completed, heartbeat',
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 1024,
    // API Gateway (and the local gateway) prefer literal segments: get-next-for-worker is not an {id}.
    routes: [
      'POST /api/1.0/work-request/',
      'GET /api/1.0/work-request/',
      'GET /api/1.0/work-request/get-next-for-worker/',
      'GET /api/1.0/work-request/{id}/',
      'PATCH /api/1.0/work-request/{id}/',
      'POST /api/1.0/work-request/{id}/retry/',
      'POST /api/1.0/work-request/{id}/abort/',
      'POST /api/1.0/work-request/{id}/unblock/',
      'PUT /api/1.0/work-request/{id}/completed/',
      'POST /api/1.0/work-request/{id}/heartbeat/',
      'POST /api/1.0/work-request/{id}/task-token/',
    ],
    // Abort tells the worker through its queue; creation, completion and retries nudge the scheduler.
    // Creation first offers the request to an idle worker (its queue, its WebSockets): shared/app/create-offer.ts.
    // Finishing a workflow child triggers its root's orchestration, and may send notifications.
    uses: { tables: { main: 'readwrite' }, sendsTo: ['scheduler', 'heartbeats', 'orchestrator', 'accounting', 'recurring-runs'], workerQueues: 'send', sendsEmail: true },
  },
  {
    name: 'workers-api',
    entry: 'functions/workers-api.ts',
    description: 'Workers: registration, dynamic metadata, disconnect, queue access; listing',
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 512,
    routes: [
      'POST /api/1.0/worker/register/',
      'PUT /api/1.0/worker/dynamic-metadata/',
      'POST /api/1.0/worker/disconnect/',
      'GET /api/1.0/worker/queue/',
      'GET /api/1.0/worker/',
      'GET /api/1.0/worker/{name}/',
    ],
    // Registration with an activation token is audited. Disconnecting may finish the worker's requests.
    uses: {
      tables: { main: 'readwrite', audit: 'append' },
      sendsTo: ['scheduler', 'orchestrator', 'accounting'],
      workerQueues: 'manage',
      sendsEmail: true,
    },
  },
  queueAndTimerConsumer('scheduler', { id: 'scheduler-tick', rateMinutes: 1 }, {
    description: 'One bounded scheduling pass per batch of scheduler events, and every minute as a fallback (Wait tasks)',
    timeoutSeconds: 60,
    memoryMb: 1024,
    // Two passes at a time at most: more would only race for the same candidates.
    // No batching window: a pass starts as soon as an event arrives (dispatch latency when idle);
    // under load the events that queued up during a pass still come in batches of up to 10.
    queue: { name: 'scheduler', batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 2 },
    // Finishing requests (Wait, synchronization points) nudges the scheduler itself again, and
    // triggers the orchestration of their root workflow (which populates workflows it started).
    uses: { tables: { main: 'readwrite' }, sendsTo: ['scheduler', 'server-tasks', 'orchestrator', 'accounting'], workerQueues: 'send', sendsEmail: true },
  }),
  {
    name: 'heartbeat-applier',
    entry: 'functions/heartbeat-applier.ts',
    description: 'Applies queued worker heartbeats in batches (newer wins)',
    timeoutSeconds: 60,
    memoryMb: 512,
    // Lambda needs a batching window for batches above 10 (standard queues allow up to 10,000).
    queue: { name: 'heartbeats', batchSize: 100, maxBatchingWindowSeconds: 5 },
    uses: { tables: { main: 'readwrite' } },
  },
  {
    name: 'watchdog',
    entry: 'functions/watchdog.ts',
    description: 'Reclaims running work requests whose heartbeat is too old and retries them',
    timeoutSeconds: 60,
    memoryMb: 512,
    schedule: { id: 'watchdog', rateMinutes: 1 },
    // A reclaimed request is retried: the scheduler is nudged; one that cannot be retried fails,
    // which triggers its root workflow's orchestration.
    uses: FINISHES_WORK_REQUESTS,
  },
  {
    name: 'server-task-runner',
    entry: 'functions/server-task-runner.ts',
    description: 'Runs one Server task (e.g. servernoop) per message',
    timeoutSeconds: 300,
    memoryMb: 1024,
    queue: { name: 'server-tasks', batchSize: 1, maxBatchingWindowSeconds: 0 },
    uses: FINISHES_WORK_REQUESTS,
  },
  {
    name: 'workflows-api',
    entry: 'functions/workflows-api.ts',
    description: 'Workflow templates (create, list, show, change, delete); start a workflow, show its tree, find a run',
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 1024,
    routes: [
      'GET /api/1.0/workflow-template/',
      'POST /api/1.0/workflow-template/',
      'GET /api/1.0/workflow-template/{id}/',
      'PATCH /api/1.0/workflow-template/{id}/',
      'DELETE /api/1.0/workflow-template/{id}/',
      'GET /api/1.0/workflow/',
      'POST /api/1.0/workflow/',
      'GET /api/1.0/workflow/{id}/',
    ],
    // Starting a workflow queues its first orchestration step (populate).
    uses: { tables: { main: 'readwrite' }, sendsTo: ['orchestrator', 'scheduler', 'accounting'] },
  },
  {
    name: 'orchestrator',
    entry: 'functions/orchestrator.ts',
    description: 'Runs workflow orchestration steps (populate, callbacks, completion), one at a time per root workflow',
    // A failed step blocks its root's message group for the visibility timeout (6 × this): keep it short.
    timeoutSeconds: 120,
    memoryMb: 1024,
    // FIFO: one message per invocation keeps a root's steps strictly in order (no batching window on FIFO).
    queue: { name: 'orchestrator', batchSize: 1, maxBatchingWindowSeconds: 0 },
    // Children it creates nudge the scheduler; a finished sub-workflow queues its parent's next step.
    uses: FINISHES_WORK_REQUESTS,
  },
  storedBytesChecker('file-verifier', 'file-verification', 'Reads uploaded objects back to check their SHA-256 and marks files complete'),
  {
    name: 'accounts-api',
    entry: 'functions/accounts-api.ts',
    description: "Users' tokens and quotas (REANA's model); admin routes for users, tokens and quotas",
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 512,
    routes: [
      'GET /api/1.0/user/token/',
      'POST /api/1.0/user/token/',
      'GET /api/1.0/user/quota/',
      'GET /api/1.0/admin/user/',
      'POST /api/1.0/admin/user/{username}/disable/',
      'POST /api/1.0/admin/user/{username}/enable/',
      'GET /api/1.0/admin/token/',
      'POST /api/1.0/admin/token/grant/',
      'POST /api/1.0/admin/token/{id}/revoke/',
      'GET /api/1.0/admin/quota/',
      'PUT /api/1.0/admin/quota/',
      'POST /api/1.0/admin/quota/recompute/',
    ],
    uses: { tables: { main: 'readwrite', audit: 'append' } },
  },
  queueAndTimerConsumer('accountant', { id: 'quota-recompute', rateMinutes: 60 }, {
    description: 'Quota accounting: applies usage events in batches (idempotent), and recomputes all usage periodically to correct drift',
    timeoutSeconds: 300,
    memoryMb: 512,
    // Not latency-critical (quotas are checked against usage that is seconds old anyway): up to 10 s or
    // 100 events per invocation, so that a busy system's finished requests share one write per usage item.
    queue: { name: 'accounting', batchSize: 100, maxBatchingWindowSeconds: 10, maxConcurrency: 2 },
    uses: { tables: { main: 'readwrite', audit: 'append' } },
  }),
  {
    name: 'expiry',
    entry: 'functions/expiry.ts',
    description: 'Expiry pass: deletes expired work requests and artifacts nothing keeps, then stored bytes no file needs (bounded, resumable)',
    timeoutSeconds: 300,
    memoryMb: 1024,
    // Each run handles at most a bounded slice from the expiry index; the next run continues.
    schedule: { id: 'expiry', rateMinutes: 15 },
    uses: { tables: { main: 'readwrite', audit: 'append' }, bucket: 'readwrite' },
  },
  {
    name: 'recurring-jobs-api',
    entry: 'functions/recurring-jobs-api.ts',
    description: 'Recurring jobs (create, list, show, change, delete, request, try again, results, events) and machine states of workers',
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 512,
    routes: [
      'POST /api/1.0/recurring-job/',
      'GET /api/1.0/recurring-job/',
      'GET /api/1.0/recurring-job/{id}/',
      'PATCH /api/1.0/recurring-job/{id}/',
      'DELETE /api/1.0/recurring-job/{id}/',
      'POST /api/1.0/recurring-job/{id}/request/',
      'POST /api/1.0/recurring-job/{id}/try-again/',
      'GET /api/1.0/recurring-job/{id}/results/',
      'GET /api/1.0/recurring-job/{id}/events/',
      'POST /api/1.0/worker/{name}/online/',
      'POST /api/1.0/worker/{name}/offline/',
      'POST /api/1.0/worker/{name}/quiesce/',
      'GET /api/1.0/worker/{name}/events/',
    ],
    // A request releases the run at once (a work request, or a workflow run: scheduler and orchestrator); FAILING notifies.
    uses: { tables: { main: 'readwrite' }, sendsTo: ['scheduler', 'orchestrator'], sendsEmail: true },
  },
  {
    name: 'admin-workers-api',
    entry: 'functions/admin-workers-api.ts',
    description: 'Administrators: enable and disable workers (the web UI; the same use cases as `conveyor admin worker`)',
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 512,
    routes: ['POST /api/1.0/worker/{name}/enable/', 'POST /api/1.0/worker/{name}/disable/'],
    // Audited (append only). Enabling creates the worker's queue and tells the scheduler; disabling gives its work back.
    uses: { tables: { main: 'readwrite', audit: 'append' }, sendsTo: ['scheduler', 'orchestrator', 'accounting'], workerQueues: 'manage', sendsEmail: true },
  },
  {
    name: 'audit-api',
    entry: 'functions/audit-api.ts',
    description: 'Administrators: the audit log, newest first',
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 512,
    routes: ['GET /api/1.0/audit/'],
    // The only reader of the audit table; it writes nothing there. main: the caller's token and user.
    uses: { tables: { main: 'readwrite', audit: 'read' } },
  },
  {
    name: 'recurring-release',
    entry: 'functions/recurring-release.ts',
    description: 'Releases due recurring-job runs as work requests, from the sparse date_due index',
    timeoutSeconds: 60,
    memoryMb: 512,
    schedule: { id: 'recurring-release', rateMinutes: 1 },
    // The moves of runs' requests that the work-requests API queued (it does not bundle the recurring-job code).
    queue: { name: 'recurring-runs', batchSize: 10, maxBatchingWindowSeconds: 0 },
    // Git-import runs are work requests (scheduler); workflow runs start workflows (orchestrator). A run that
    // cannot start fails at once, and may turn its job FAILING (notification).
    uses: { tables: { main: 'readwrite' }, sendsTo: ['scheduler', 'orchestrator'], sendsEmail: true },
  },
]);

/**
 * Debusine's WebSocket channel: the functions that assign or finish work requests also tell
 * Debusine's workers (work_request_available) and on-completed listeners over their sockets.
 * Declared here, after FUNCTIONS, so that the entries above stay as they are.
 */
export const SOCKET_NOTIFYING_FUNCTIONS = /* @__PURE__ */ socketNotifyingFunctions();
function socketNotifyingFunctions(): string[] {
  return ['work-requests-api', 'workers-api', 'scheduler', 'watchdog', 'server-task-runner', 'workflows-api', 'orchestrator'];
}
function withWebSocketFunctions(functions: FunctionSpec[]): FunctionSpec[] {
  const notifying = socketNotifyingFunctions();
  for (const f of functions) {
    if (!notifying.includes(f.name)) continue;
    f.uses.sockets = true;
    f.uses.tables.connections = 'readwrite';
  }
  functions.push(
  {
    name: 'websocket-api',
    entry: 'functions/websocket-api.ts',
    description: "Debusine's WebSockets: $connect (token check, path), $disconnect; greetings are queued",
    timeoutSeconds: API_TIMEOUT,
    memoryMb: 512,
    websocketRoutes: ['$connect', '$disconnect', '$default'],
    uses: { tables: { main: 'readwrite', connections: 'readwrite' }, sendsTo: ['socket-greetings'], sockets: true },
  },
  {
    name: 'socket-greeter',
    entry: 'functions/socket-greeter.ts',
    description: 'Greets new WebSockets: connected, request_dynamic_metadata, work_request_available, or the rejection',
    timeoutSeconds: 60,
    memoryMb: 512,
    queue: { name: 'socket-greetings', batchSize: 10, maxBatchingWindowSeconds: 0 },
    // Greeting a worker schedules for it at once (a worker that connects while work waits gets it).
    uses: { tables: { main: 'readwrite', connections: 'readwrite' }, sendsTo: ['scheduler', 'orchestrator'], workerQueues: 'send', sockets: true, sendsEmail: true },
  },
  // One at a time: a file's last range reads and writes the whole file.
  storedBytesChecker(
    'debusine-range-recorder',
    'debusine-ranges',
    "Checks the ranges Debusine's client uploaded into the bucket through CloudFront; the last one assembles and verifies the file",
  ),
  );
  return functions;
}

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
