import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Architecture, Code, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FunctionSpec } from '../../shared/manifest';

/** The repository root: entries in the manifest are relative to it. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export const FUNCTION_RUNTIME = Runtime.NODEJS_24_X;
export const FUNCTION_ARCHITECTURE = Architecture.ARM_64;
export const FUNCTION_LOG_RETENTION = RetentionDays.ONE_MONTH;

/** Warning id when a missing entry is replaced by a placeholder (tests acknowledge it). */
export const PLACEHOLDER_ENTRY_WARNING = 'conveyor:placeholderEntry';

export interface ConveyorFunctionProps {
  spec: FunctionSpec;
  /** Environment variables on top of the defaults (NODE_OPTIONS). */
  environment?: Record<string, string>;
  /** Defaults to REPO_ROOT; the entry in `spec` is resolved against it. */
  repoRoot?: string;
}

/**
 * One Lambda function with the project's defaults: Node.js 22 on arm64, a log group with
 * a retention, source maps, and a CJS bundle made by the local esbuild (no Docker) with the
 * AWS SDK v3 left to the runtime.
 *
 * When the stack is synthesised without bundling (jest: context `aws:cdk:bundling-stacks: []`)
 * and the entry file does not exist yet, a placeholder inline handler stands in so that the
 * template can still be asserted on; with bundling (cdk synth/deploy) a missing entry is an error.
 */
export class ConveyorFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly spec: FunctionSpec;

  constructor(scope: Construct, id: string, props: ConveyorFunctionProps) {
    super(scope, id);
    const { spec } = props;
    this.spec = spec;
    const root = props.repoRoot ?? REPO_ROOT;
    const entry = path.resolve(root, spec.entry);
    const entryExists = fs.existsSync(entry);
    const bundling = Stack.of(this).bundlingRequired;
    if (!entryExists && bundling) {
      throw new Error(
        `ConveyorFunction ${spec.name}: entry file ${spec.entry} (FUNCTIONS in shared/manifest.ts) does not exist ` +
          `under ${root}; create it before synthesising with bundling.`,
      );
    }

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: FUNCTION_LOG_RETENTION,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const placeholder = !entryExists;
    if (placeholder) {
      Validations.of(this).addWarning(
        PLACEHOLDER_ENTRY_WARNING,
        `${spec.entry} is missing: using a placeholder handler because bundling is skipped for this stack`,
      );
    }

    this.fn = new NodejsFunction(this, 'Function', {
      description: spec.description,
      runtime: FUNCTION_RUNTIME,
      architecture: FUNCTION_ARCHITECTURE,
      timeout: Duration.seconds(spec.timeoutSeconds),
      memorySize: spec.memoryMb,
      logGroup: this.logGroup,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      ...(placeholder
        ? {
            code: Code.fromInline('exports.handler = async () => { throw new Error("placeholder"); };'),
            handler: 'index.handler',
          }
        : {
            entry,
            handler: 'handler',
            projectRoot: root,
            depsLockFilePath: path.join(root, 'package-lock.json'),
            bundling: {
              format: OutputFormat.CJS,
              target: 'node22',
              minify: true,
              sourceMap: true,
              externalModules: ['@aws-sdk/*'],
              forceDockerBundling: false,
            },
          }),
    });
  }
}
