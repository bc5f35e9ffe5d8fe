/**
 * The file store port (S3) and its clients: a module of its own so that only the functions wired
 * with `files` require the S3 SDK packages at cold start (see aws-clients.ts).
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { BUCKET_ENV_VAR } from '../manifest';
import { unconfigured, type AwsAdapter } from './aws-adapters';
import { clientBase, type AwsContext } from './aws-clients';
import { S3FileStore } from './s3/file-store';

const s3Config = (ctx: AwsContext): S3ClientConfig => ({ ...clientBase(ctx, 'S3'), forcePathStyle: ctx.config.forcePathStyle });

export function s3Client(ctx: AwsContext): S3Client {
  return (ctx.clients.s3 ??= new S3Client(s3Config(ctx)));
}

export function s3PresignerClient(ctx: AwsContext): S3Client {
  return (ctx.clients.s3Presigner ??= new S3Client({ ...s3Config(ctx), requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }));
}

export const files: AwsAdapter<'files'> = (ctx) => {
  if (!ctx.config.bucket) return unconfigured('the file store', BUCKET_ENV_VAR);
  // Deps built from given clients presign with the given presigner, or the file store's default.
  const presigner = ctx.clients.s3Presigner ?? (ctx.env ? s3PresignerClient(ctx) : undefined);
  return new S3FileStore(s3Client(ctx), ctx.config.bucket, { verifyMode: ctx.config.verifyMode, ...(presigner ? { presigner } : {}) });
};
