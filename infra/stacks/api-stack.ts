import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi, HttpMethod, PayloadFormatVersion } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BUCKET_ENV_VAR, VERIFY_MODE_ENV_VAR } from '../../shared/manifest';
import type { FunctionSpec } from '../../shared/manifest';
import { ConveyorFunction } from '../constructs/conveyor-function';
import { parseRouteKey, validateManifest } from '../manifest';
import type { ConveyorManifest } from '../manifest';

/** Request headers the browser may send to the API (Debusine's client headers and uploads). */
export const CORS_ALLOW_HEADERS = ['Token', 'X-Debusine-Scope', 'Content-Type', 'Content-Range'];

export interface ApiStackProps extends StackProps {
  manifest: ConveyorManifest;
  tables: Record<string, ITable>;
  bucket: IBucket;
  queues: Record<string, IQueue>;
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

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { manifest } = props;
    validateManifest(manifest);

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
    return env;
  }

  private grantUses(fn: ConveyorFunction, spec: FunctionSpec, props: ApiStackProps): void {
    for (const [name, access] of Object.entries(spec.uses.tables)) {
      const table = this.table(props, name);
      if (access === 'readwrite') table.grantReadWriteData(fn.fn);
      else if (access === 'read') table.grantReadData(fn.fn);
    }
    if (spec.uses.bucket === 'readwrite') props.bucket.grantReadWrite(fn.fn);
    else if (spec.uses.bucket === 'read') props.bucket.grantRead(fn.fn);
    for (const name of spec.uses.sendsTo ?? []) this.queue(props, name).grantSendMessages(fn.fn);
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
