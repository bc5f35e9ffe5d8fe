/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy --all` (cdk.json runs `node --import tsx infra/app.ts`).
 * Offline synth needs nothing but CDK_DISABLE_VERSION_CHECK=1 (cdk.json turns off notices and telemetry).
 * The account/region come from the CLI's environment (CDK_DEFAULT_ACCOUNT/REGION) when known.
 */
import { App } from 'aws-cdk-lib';
import { createConveyor } from './conveyor';

const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
createConveyor(app, account || region ? { env: { account, region } } : {});
app.synth();
