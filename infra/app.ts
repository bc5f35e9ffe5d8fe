/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy --all` (cdk.json runs `node --import tsx infra/app.ts`).
 * Offline synth needs nothing but CDK_DISABLE_VERSION_CHECK=1 (cdk.json turns off notices and telemetry).
 * The account/region come from the CLI's environment (CDK_DEFAULT_ACCOUNT/REGION) when known.
 * The default sender of notification e-mails (an SES-verified identity) comes from the context
 * (`cdk deploy -c notifyFrom=conveyor@example.org`) or from CONVEYOR_NOTIFY_FROM.
 */
import { App, Validations } from 'aws-cdk-lib';
import { NOTIFY_FROM_ENV_VAR } from '../shared/manifest';
import { createConveyor } from './conveyor';
import { ConveyorNagChecks } from './nag';

const app = new App();
// cdk-nag (AwsSolutions): synth fails on any finding not acknowledged in infra/nag.ts.
Validations.of(app).addPlugins(new ConveyorNagChecks(app));
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
const notifyFrom = (app.node.tryGetContext('notifyFrom') as string | undefined) || process.env[NOTIFY_FROM_ENV_VAR] || undefined;
createConveyor(app, {
  ...(account || region ? { env: { account, region } } : {}),
  ...(notifyFrom ? { notifyFrom } : {}),
});
app.synth();
