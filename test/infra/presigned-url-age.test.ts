/**
 * Security finding 7: presigned URLs are signed by the function roles; every role that can sign one
 * denies query-string-signed requests older than the longest URL Conveyor hands out.
 */
import 'aws-cdk-lib/testhelpers/jest-autoclean';
import { PRESIGNED_URL_MAX_AGE_SECONDS } from '../../infra/stacks/api-stack';
import { DOWNLOAD_URL_TTL_SECONDS } from '../../shared/app/downloads';
import { UPLOAD_URL_TTL_SECONDS } from '../../shared/app/uploads';
import { actions, resources, statementsOfRole, synth } from './helpers';

const { api } = synth();

it('no URL Conveyor signs outlives the IAM limit', () => {
  expect(UPLOAD_URL_TTL_SECONDS).toBeLessThanOrEqual(PRESIGNED_URL_MAX_AGE_SECONDS);
  expect(DOWNLOAD_URL_TTL_SECONDS).toBeLessThanOrEqual(PRESIGNED_URL_MAX_AGE_SECONDS);
});

it('every function role that may read or write the file store denies presigned requests older than the limit', () => {
  const roles = Object.keys(resources(api, 'AWS::IAM::Role'));
  // CDK's bucket-notifications handler only configures notifications (the Debusine ranges): it can sign nothing useful.
  const signsObjects = (a: string) => a.startsWith('s3:') && !a.includes('BucketNotification');
  const withBucket = roles.filter((role) => actions(statementsOfRole(api, role).filter((s) => s.Effect === 'Allow')).some(signsObjects));
  expect(withBucket.length).toBeGreaterThanOrEqual(2);
  for (const role of withBucket) {
    const deny = statementsOfRole(api, role).filter((s) => s.Effect === 'Deny');
    expect([role, deny]).toEqual([
      role,
      expect.arrayContaining([
        expect.objectContaining({
          Action: actions(statementsOfRole(api, role).filter((s) => s.Effect === 'Allow')).some((a) => a.startsWith('s3:PutObject')) ? ['s3:GetObject', 's3:PutObject'] : 's3:GetObject',
          Condition: {
            StringEquals: { 's3:authType': 'REST-QUERY-STRING' },
            NumericGreaterThan: { 's3:signatureAge': PRESIGNED_URL_MAX_AGE_SECONDS * 1000 },
          },
        }),
      ]),
    ]);
  }
});
