/**
 * Admin commands reach DynamoDB, S3 and SQS directly (like debusine-admin), so they need
 * the same environment variables as the Lambda functions. On a dev machine those come
 * from the local stack's `local.json` when the shell does not set them.
 */
import { existsSync } from 'node:fs';
import { BUCKET_ENV_VAR, QUEUES, TABLES } from '../../shared/manifest';
import { localStackFilePath, readJsonObject } from '../client/config';

export type AdminEnvironmentSource = { kind: 'environment' } | { kind: 'local-stack'; path: string };

export function requiredAdminVariables(): string[] {
  return [TABLES.main.envVar, TABLES.audit.envVar, BUCKET_ENV_VAR, ...Object.values(QUEUES).map((q) => q.envVar)];
}

/**
 * Leaves `env` alone when CONVEYOR_TABLE_MAIN is set; otherwise copies the local stack's
 * `env` map into it. The local values win over the shell's (e.g. AWS_REGION), because
 * DynamoDB Local keeps one database per region and access key.
 */
export function prepareAdminEnvironment(env: NodeJS.ProcessEnv, cwd: string): AdminEnvironmentSource {
  if (env[TABLES.main.envVar]) return { kind: 'environment' };
  const path = localStackFilePath({ env, cwd });
  if (!existsSync(path)) {
    throw new Error(
      `Admin commands talk to the database directly and do not know where it is. ` +
        `Set ${requiredAdminVariables().join(', ')} (and AWS credentials and region) from the CDK stack outputs, ` +
        `or start the local stack with \`conveyor dev\`, which writes ${path}.`,
    );
  }
  const localStack = readJsonObject(path, 'local stack file');
  const variables = localStack.env;
  if (typeof variables !== 'object' || variables === null || Array.isArray(variables)) {
    throw new Error(`The local stack file ${path} has no "env" object; restart \`conveyor dev\` to rewrite it`);
  }
  for (const [name, value] of Object.entries(variables as Record<string, unknown>)) {
    if (typeof value === 'string') env[name] = value;
  }
  if (!env[TABLES.main.envVar]) throw new Error(`The local stack file ${path} does not set ${TABLES.main.envVar}`);
  return { kind: 'local-stack', path };
}
