import { ArnFormat, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import { CfnStage, CorsHttpMethod, HttpApi, HttpMethod, PayloadFormatVersion } from 'aws-cdk-lib/aws-apigatewayv2';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, Role, type IRole } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Bucket, EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import { SqsDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { DEBUSINE_RANGE_PREFIX } from '../../shared/formats/debusine-range-edge';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  BUCKET_ENV_VAR,
  DEFAULT_WORKER_QUEUE_PREFIX,
  NOTIFY_FROM_ENV_VAR,
  VERIFY_MODE_ENV_VAR,
  WORKER_QUEUE_PREFIX_ENV_VAR,
  WORKER_QUEUE_ROLE_ENV_VAR,
  WS_MANAGEMENT_ENDPOINT_ENV_VAR,
} from '../../shared/manifest';
import type { FunctionSpec } from '../../shared/manifest';
import { ConveyorFunction, FUNCTION_LOG_RETENTION } from '../constructs/conveyor-function';
import { DebusineWebSockets } from '../constructs/debusine-websockets';
import { parseRouteKey, validateManifest } from '../manifest';
import type { ConveyorManifest } from '../manifest';

/** Request headers the browser may send to the API (Debusine's client headers and uploads). */
export const CORS_ALLOW_HEADERS = ['Token', 'X-Debusine-Scope', 'Content-Type', 'Content-Range'];

/** What a function may do on the per-worker queues (`workerQueues` in the manifest). */
export const WORKER_QUEUE_MANAGE_ACTIONS = ['sqs:CreateQueue', 'sqs:GetQueueUrl', 'sqs:SetQueueAttributes', 'sqs:SendMessage'];
export const WORKER_QUEUE_SEND_ACTIONS = ['sqs:SendMessage'];
/** What the worker-queue access role allows (a worker's session narrows it to its own queue). */
export const WORKER_QUEUE_CONSUMER_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'];
/** What a function that `sendsEmail` may do, on the SES identities of this account and region only. */
export const SEND_EMAIL_ACTIONS = ['ses:SendEmail'];
/**
 * The oldest a presigned URL's signature may be when S3 receives the request (security finding 7):
 * the longest URL Conveyor hands out (an upload part, 1 h). Enforced by IAM on every function role
 * that can sign, whatever expiry the code asks for.
 */
export const PRESIGNED_URL_MAX_AGE_SECONDS = 3600;

/**
 * Presigned URLs are signed with the function's own role, and a URL can do only what its signature
 * covers (one method on one key), so the role's reach over other keys is not the URL's. What the
 * role can bound is the URL's life: a query-string-signed request older than
 * PRESIGNED_URL_MAX_AGE_SECONDS is denied (docs/security.md).
 */
export function presignedUrlAgeLimit(bucket: IBucket, writes: boolean): PolicyStatement {
  return new PolicyStatement({
    effect: Effect.DENY,
    // Only what the role could otherwise do: a read-only role's policy names no write action at all.
    actions: writes ? ['s3:GetObject', 's3:PutObject'] : ['s3:GetObject'],
    resources: [bucket.arnForObjects('*')],
    conditions: {
      StringEquals: { 's3:authType': 'REST-QUERY-STRING' },
      NumericGreaterThan: { 's3:signatureAge': PRESIGNED_URL_MAX_AGE_SECONDS * 1000 },
    },
  });
}
/** Requests per second over the whole API, and the burst above it (API Gateway throttling, 429). */
export const API_THROTTLE_RATE_PER_SECOND = 200;
export const API_THROTTLE_BURST = 400;
/** One JSON line per request in the access log: no headers, so no tokens. */
export const API_ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  method: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  status: '$context.status',
  responseLength: '$context.responseLength',
  integrationLatency: '$context.integrationLatency',
  userAgent: '$context.identity.userAgent',
};
/** The WebSocket stage's access log: one JSON line per connect, message and disconnect (no headers). */
export const WEBSOCKET_ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  eventType: '$context.eventType',
  routeKey: '$context.routeKey',
  connectionId: '$context.connectionId',
  status: '$context.status',
};
/** What `append` access to a table allows (the audit log). */
export const TABLE_APPEND_ACTIONS = ['dynamodb:PutItem'];

export interface ApiStackProps extends StackProps {
  manifest: ConveyorManifest;
  tables: Record<string, ITable>;
  bucket: IBucket;
  queues: Record<string, IQueue>;
  /** Name prefix of the per-worker queues, which IAM is scoped to (default `conveyor-worker-`). */
  workerQueuePrefix?: string;
  /**
   * Default sender of notification e-mails (an SES-verified identity), given to the functions that
   * `sendsEmail` as CONVEYOR_NOTIFY_FROM. Without it, only channels that name a `from` can send.
   */
  notifyFrom?: string;
  /** Passed to ConveyorFunction (tests). */
  repoRoot?: string;
}

/**
 * The functions of FUNCTIONS with their triggers (HTTP routes, SQS event sources) and the HTTP
 * API. Each function gets environment variables and IAM grants for exactly the tables, bucket
 * and queues its `uses` lists (plus consumption of its trigger queue), nothing else.
 */
export class ApiStack extends Stack {
  readonly functions: Record<string, ConveyorFunction> = {};
  readonly api: HttpApi;
  /** Debusine's WebSocket API and the CloudFront host in front of both APIs. */
  websockets?: DebusineWebSockets;
  readonly workerQueuePrefix: string;
  /** `arn:<partition>:sqs:<region>:<account>:<prefix>*`: every per-worker queue, nothing else. */
  readonly workerQueueArnPattern: string;
  /**
   * The SES identities the sending functions may use: the configured sender's address and its
   * domain (`identity/<address>`, `identity/<domain>`), never `identity/*` (security finding 3).
   * Empty without `notifyFrom`: then no function may send e-mail.
   */
  readonly sesSenderIdentityArns: string[];
  private accessRole?: Role;

  /**
   * Assumed by the functions that `manage` worker queues, with a session policy naming one
   * worker's queue: the temporary credentials a worker gets from `GET worker/queue/`.
   * Absent when no function manages worker queues.
   */
  get workerQueueAccessRole(): Role | undefined {
    return this.accessRole;
  }

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { manifest } = props;
    validateManifest(manifest);
    this.workerQueuePrefix = props.workerQueuePrefix ?? DEFAULT_WORKER_QUEUE_PREFIX;
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(this.workerQueuePrefix)) {
      throw new Error(`ApiStack: invalid worker queue prefix ${JSON.stringify(this.workerQueuePrefix)}`);
    }
    this.workerQueueArnPattern = this.formatArn({
      service: 'sqs',
      resource: `${this.workerQueuePrefix}*`,
      arnFormat: ArnFormat.NO_RESOURCE_NAME,
    });
    if (props.notifyFrom !== undefined && !/^[^\s@<>]+@[^\s@<>]+$/.test(props.notifyFrom)) {
      throw new Error(`ApiStack: notifyFrom ${JSON.stringify(props.notifyFrom)} is not an e-mail address`);
    }
    const senderIdentities = props.notifyFrom !== undefined ? [props.notifyFrom, props.notifyFrom.split('@')[1]!] : [];
    this.sesSenderIdentityArns = senderIdentities.map((identity) =>
      this.formatArn({ service: 'ses', resource: 'identity', resourceName: identity, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
    );

    this.api = new HttpApi(this, 'HttpApi', {
      description: 'Conveyor: Debusine-compatible REST API',
      corsPreflight: {
        allowOrigins: ['*'],
        allowHeaders: CORS_ALLOW_HEADERS,
        allowMethods: [
          CorsHttpMethod.GET,
          CorsHttpMethod.HEAD,
          CorsHttpMethod.POST,
          CorsHttpMethod.PUT,
          CorsHttpMethod.PATCH,
          CorsHttpMethod.DELETE,
          CorsHttpMethod.OPTIONS,
        ],
        maxAge: Duration.days(1),
      },
    });
    this.guardDefaultStage();

    for (const spec of manifest.functions) {
      const fn = new ConveyorFunction(this, spec.name, {
        spec,
        environment: this.environmentFor(spec, props),
        ...(props.repoRoot ? { repoRoot: props.repoRoot } : {}),
      });
      this.functions[spec.name] = fn;
      this.grantUses(fn, spec, props);

      if (spec.queue) {
        const queueSpec = manifest.queues[spec.queue.name]!;
        fn.fn.addEventSource(
          new SqsEventSource(this.queue(props, spec.queue.name), {
            batchSize: spec.queue.batchSize,
            ...(spec.queue.maxConcurrency !== undefined ? { maxConcurrency: spec.queue.maxConcurrency } : {}),
            // FIFO event sources do not support a batching window.
            ...(queueSpec.fifo ? {} : { maxBatchingWindow: Duration.seconds(spec.queue.maxBatchingWindowSeconds) }),
            reportBatchItemFailures: true,
          }),
        );
      }

      if (spec.routes?.length) {
        const integration = new HttpLambdaIntegration(`${spec.name}-integration`, fn.fn, {
          payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
          // One permission per function instead of one per route (Lambda's policy size limit).
          scopePermissionToRoute: false,
        });
        for (const routeKey of spec.routes) {
          const { method, path } = parseRouteKey(routeKey);
          this.api.addRoutes({ path, methods: [HttpMethod[method]], integration });
        }
      }
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.url!, description: 'Base URL of the HTTP API' });
    this.addDebusineWebSockets(manifest, props);
  }

  /** Debusine's WebSockets and the single host (infra/constructs/debusine-websockets.ts). */
  private addDebusineWebSockets(manifest: ConveyorManifest, props: ApiStackProps): void {
    const socketSpec = manifest.functions.find((f) => f.websocketRoutes?.length);
    if (!socketSpec) return;
    // Imported: the bucket's policy stays in the data stack (see DataStack), so the stacks do not depend on each other.
    const uploadBucket = Bucket.fromBucketAttributes(this, 'DebusineRangesBucket', {
      bucketName: props.bucket.bucketName,
      bucketArn: props.bucket.bucketArn,
      bucketRegionalDomainName: props.bucket.bucketRegionalDomainName,
    });
    this.websockets = new DebusineWebSockets(this, 'DebusineWebSockets', { handler: this.functions[socketSpec.name]!.fn, httpApi: this.api, uploadBucket });
    // S3 tells debusine-range-recorder (through its queue) of every range stored under the staging prefix.
    const rangesQueue = props.queues['debusine-ranges'];
    if (rangesQueue) uploadBucket.addEventNotification(EventType.OBJECT_CREATED, new SqsDestination(rangesQueue), { prefix: DEBUSINE_RANGE_PREFIX });
    // The same guards as the HTTP API's stage: every connection logged, and no caller can flood the functions.
    const wsStage = this.websockets.stage.node.defaultChild as CfnStage;
    const wsLogs = new LogGroup(this, 'WebSocketAccessLogs', { retention: FUNCTION_LOG_RETENTION });
    wsStage.accessLogSettings = { destinationArn: wsLogs.logGroupArn, format: JSON.stringify(WEBSOCKET_ACCESS_LOG_FORMAT) };
    wsStage.defaultRouteSettings = { throttlingRateLimit: API_THROTTLE_RATE_PER_SECOND, throttlingBurstLimit: API_THROTTLE_BURST };
    for (const spec of manifest.functions) {
      if (!spec.uses.sockets) continue;
      const fn = this.functions[spec.name]!.fn;
      fn.addEnvironment(WS_MANAGEMENT_ENDPOINT_ENV_VAR, this.websockets.managementEndpoint);
      this.websockets.grantManageConnections(fn);
    }
  }

  private environmentFor(spec: FunctionSpec, props: ApiStackProps): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of Object.keys(spec.uses.tables)) {
      env[props.manifest.tables[name]!.envVar] = this.table(props, name).tableName;
    }
    if (spec.uses.bucket) {
      env[BUCKET_ENV_VAR] = props.bucket.bucketName;
      env[VERIFY_MODE_ENV_VAR] = 'checksum';
    }
    for (const name of spec.uses.sendsTo ?? []) {
      env[props.manifest.queues[name]!.envVar] = this.queue(props, name).queueUrl;
    }
    // The role ARN (`manage`) is added once the role exists: it trusts the function's role.
    if (spec.uses.workerQueues) env[WORKER_QUEUE_PREFIX_ENV_VAR] = this.workerQueuePrefix;
    if (spec.uses.sendsEmail && props.notifyFrom !== undefined) env[NOTIFY_FROM_ENV_VAR] = props.notifyFrom;
    return env;
  }

  private grantUses(fn: ConveyorFunction, spec: FunctionSpec, props: ApiStackProps): void {
    for (const [name, access] of Object.entries(spec.uses.tables)) {
      const table = this.table(props, name);
      if (access === 'readwrite') table.grantReadWriteData(fn.fn);
      else if (access === 'read') table.grantReadData(fn.fn);
      // Append-only (security finding 7): the function can add audit entries, not read, change or delete them.
      else if (access === 'append') fn.fn.addToRolePolicy(new PolicyStatement({ actions: TABLE_APPEND_ACTIONS, resources: [table.tableArn] }));
    }
    if (spec.uses.bucket === 'readwrite') props.bucket.grantReadWrite(fn.fn);
    else if (spec.uses.bucket === 'read') props.bucket.grantRead(fn.fn);
    if (spec.uses.bucket) fn.fn.addToRolePolicy(presignedUrlAgeLimit(props.bucket, spec.uses.bucket === 'readwrite'));
    for (const name of spec.uses.sendsTo ?? []) this.queue(props, name).grantSendMessages(fn.fn);
    if (spec.uses.sendsEmail && props.notifyFrom !== undefined) {
      // Only the configured sender: a contributor's reaction cannot make SES send as another identity.
      fn.fn.addToRolePolicy(
        new PolicyStatement({
          actions: SEND_EMAIL_ACTIONS,
          resources: this.sesSenderIdentityArns,
          conditions: { StringEquals: { 'ses:FromAddress': props.notifyFrom } },
        }),
      );
    }
    if (spec.uses.workerQueues) {
      const manage = spec.uses.workerQueues === 'manage';
      fn.fn.addToRolePolicy(
        new PolicyStatement({
          actions: manage ? WORKER_QUEUE_MANAGE_ACTIONS : WORKER_QUEUE_SEND_ACTIONS,
          resources: [this.workerQueueArnPattern],
        }),
      );
      if (manage) {
        const accessRole = this.accessRoleTrusting(fn.fn.role!);
        accessRole.grantAssumeRole(fn.fn.role!);
        fn.fn.addEnvironment(WORKER_QUEUE_ROLE_ENV_VAR, accessRole.roleArn);
      }
    }
  }

  /**
   * The worker-queue access role, created with the first function that manages worker queues;
   * its trust policy names exactly those functions' roles.
   */
  /**
   * Access logs and throttling on the API's stage (security findings 2 and 7): every request is
   * logged (who, what, status; never the Token header), and no caller can flood the functions.
   */
  private guardDefaultStage(): void {
    const stage = this.api.defaultStage!.node.defaultChild as CfnStage;
    const accessLogs = new LogGroup(this, 'HttpApiAccessLogs', { retention: FUNCTION_LOG_RETENTION });
    stage.accessLogSettings = { destinationArn: accessLogs.logGroupArn, format: JSON.stringify(API_ACCESS_LOG_FORMAT) };
    stage.defaultRouteSettings = { throttlingRateLimit: API_THROTTLE_RATE_PER_SECOND, throttlingBurstLimit: API_THROTTLE_BURST };
  }

  private accessRoleTrusting(role: IRole): Role {
    if (!this.accessRole) {
      this.accessRole = new Role(this, 'WorkerQueueAccessRole', {
        description: `Conveyor workers' access to their own queue (${this.workerQueuePrefix}*); each session is narrowed to one queue`,
        assumedBy: role,
        // Role chaining (a Lambda role assuming this one) is limited to one hour anyway.
        maxSessionDuration: Duration.hours(1),
      });
      // TLS only (security finding 7): a worker's session cannot read its queue over plain HTTP.
      this.accessRole.addToPolicy(
        new PolicyStatement({
          actions: WORKER_QUEUE_CONSUMER_ACTIONS,
          resources: [this.workerQueueArnPattern],
          conditions: { Bool: { 'aws:SecureTransport': 'true' } },
        }),
      );
      return this.accessRole;
    }
    this.accessRole.assumeRolePolicy!.addStatements(new PolicyStatement({ actions: ['sts:AssumeRole'], principals: [role] }));
    return this.accessRole;
  }

  private table(props: ApiStackProps, name: string): ITable {
    const table = props.tables[name];
    if (!table) throw new Error(`ApiStack: no table "${name}" was passed in`);
    return table;
  }

  private queue(props: ApiStackProps, name: string): IQueue {
    const queue = props.queues[name];
    if (!queue) throw new Error(`ApiStack: no queue "${name}" was passed in`);
    return queue;
  }
}
