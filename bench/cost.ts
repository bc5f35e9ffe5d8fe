/**
 * Cost per million artifact creates at AWS on-demand list prices (us-east-1), from measured counts:
 * DynamoDB capacity and S3/SQS requests from the SDK middlewares, Lambda duration from the handler
 * timed in-process, memory from shared/manifest.ts.
 */
import { failedConditionalWrites, type CapacityResults } from './capacity';
import type { HandlerTimings } from './lambda';

export const PRICES = {
  dynamoWriteRequestUnitPerMillion: 1.25,
  dynamoReadRequestUnitPerMillion: 0.25,
  apiGatewayHttpPerMillion: 1.0,
  lambdaRequestsPerMillion: 0.2,
  lambdaGbSecond: 0.0000133334,
  s3PutClassPerThousand: 0.005,
  s3GetClassPerThousand: 0.0004,
  sqsStandardPerMillion: 0.4,
} as const;

/** S3 request classes: COPY, POST and LIST are billed like PUT; DELETE and abort are free. */
const S3_PUT_CLASS = /^(PutObject|CopyObject|CreateMultipartUpload|UploadPart|UploadPartCopy|CompleteMultipartUpload|ListParts|ListObjects|ListObjectsV2|ListMultipartUploads)/;
const S3_GET_CLASS = /^(GetObject|HeadObject)/;
const S3_FREE = /^(DeleteObject|DeleteObjects|AbortMultipartUpload)/;

export interface CostLine {
  item: string;
  perArtifact: string;
  unitPrice: string;
  perMillion: number;
}

export interface CostModel {
  lines: CostLine[];
  totalPerMillion: number;
  apiRequestsPerArtifact: number;
  s3Unclassified: string[];
}

export function costPerMillionArtifacts(capacity: CapacityResults, lambda: HandlerTimings): CostModel {
  const seq = capacity.fullSequence;
  const apiRequests = 3; // POST artifact/, POST upload/<path>/, POST upload-complete/<path>/
  const invocations = apiRequests;
  const failedWrites = failedConditionalWrites(seq.dynamo);
  const wru = seq.dynamo.wcu + failedWrites;
  const rru = seq.dynamo.rcu;
  let s3Put = 0;
  let s3Get = 0;
  let s3Free = 0;
  const unclassified: string[] = [];
  for (const [command, count] of Object.entries(seq.s3.requests)) {
    const name = command.replace(/Command$/, '');
    if (S3_PUT_CLASS.test(name)) s3Put += count;
    else if (S3_GET_CLASS.test(name)) s3Get += count;
    else if (S3_FREE.test(name)) s3Free += count;
    else unclassified.push(command);
  }
  const sqsRequests = Object.values(seq.sqs.requests).reduce((n, v) => n + v, 0);
  const memoryGb = lambda.fn.memoryMb / 1024;
  const gbSeconds = (lambda.billedMsPerArtifact / 1000) * memoryGb;

  const lines: CostLine[] = [
    {
      item: 'API Gateway HTTP API requests',
      perArtifact: `${apiRequests}`,
      unitPrice: `$${PRICES.apiGatewayHttpPerMillion.toFixed(2)} / million`,
      perMillion: apiRequests * PRICES.apiGatewayHttpPerMillion,
    },
    {
      item: 'Lambda invocations (arm64)',
      perArtifact: `${invocations}`,
      unitPrice: `$${PRICES.lambdaRequestsPerMillion.toFixed(2)} / million`,
      perMillion: invocations * PRICES.lambdaRequestsPerMillion,
    },
    {
      item: `Lambda compute (${lambda.fn.memoryMb} MB × ${lambda.billedMsPerArtifact.toFixed(1)} billed ms)`,
      perArtifact: `${gbSeconds.toFixed(4)} GB-s`,
      unitPrice: `$${PRICES.lambdaGbSecond} / GB-s`,
      perMillion: gbSeconds * 1e6 * PRICES.lambdaGbSecond,
    },
    {
      item: `DynamoDB write request units (${seq.dynamo.wcu} reported + ${failedWrites} failed conditional writes)`,
      perArtifact: `${round(wru)}`,
      unitPrice: `$${PRICES.dynamoWriteRequestUnitPerMillion.toFixed(2)} / million`,
      perMillion: wru * PRICES.dynamoWriteRequestUnitPerMillion,
    },
    {
      item: 'DynamoDB read request units',
      perArtifact: `${round(rru)}`,
      unitPrice: `$${PRICES.dynamoReadRequestUnitPerMillion.toFixed(2)} / million`,
      perMillion: rru * PRICES.dynamoReadRequestUnitPerMillion,
    },
    {
      item: 'S3 PUT/COPY/POST/LIST requests',
      perArtifact: `${round(s3Put)}`,
      unitPrice: `$${PRICES.s3PutClassPerThousand} / 1,000`,
      perMillion: s3Put * 1000 * PRICES.s3PutClassPerThousand,
    },
    {
      item: 'S3 GET/HEAD requests',
      perArtifact: `${round(s3Get)}`,
      unitPrice: `$${PRICES.s3GetClassPerThousand} / 1,000`,
      perMillion: s3Get * 1000 * PRICES.s3GetClassPerThousand,
    },
    { item: 'S3 DELETE requests', perArtifact: `${round(s3Free)}`, unitPrice: 'free', perMillion: 0 },
    {
      item: 'SQS requests',
      perArtifact: `${round(sqsRequests)}`,
      unitPrice: `$${PRICES.sqsStandardPerMillion.toFixed(2)} / million`,
      perMillion: sqsRequests * PRICES.sqsStandardPerMillion,
    },
  ];
  return {
    lines,
    totalPerMillion: lines.reduce((n, l) => n + l.perMillion, 0),
    apiRequestsPerArtifact: apiRequests,
    s3Unclassified: unclassified,
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

// ---------------------------------------------------------------- work requests

export interface WorkRequestCostInput {
  /** DynamoDB and SQS counts of one noop request's life (bench/lifecycle-cost.ts). */
  /** `rcu`: with AWS's minimum charge per read request; `reportedRcu`: what DynamoDB Local reported. */
  dynamo: { rcu: number; reportedRcu: number; wcu: number; failedConditionalWrites: number };
  sqsRequests: number;
  /** Lambda invocations per request by function, and their mean billed ms and memory (measured on the stack). */
  functions: { name: string; invocationsPerRequest: number; billedMs: number; memoryMb: number; apiGateway: boolean }[];
}

export interface WorkRequestCost {
  lines: CostLine[];
  totalPerMillion: number;
  apiRequests: number;
  invocations: number;
  gbSeconds: number;
}

export function costPerMillionWorkRequests(input: WorkRequestCostInput): WorkRequestCost {
  const apiRequests = input.functions.filter((f) => f.apiGateway).reduce((n, f) => n + f.invocationsPerRequest, 0);
  const invocations = input.functions.reduce((n, f) => n + f.invocationsPerRequest, 0);
  const gbSeconds = input.functions.reduce((n, f) => n + f.invocationsPerRequest * (f.billedMs / 1000) * (f.memoryMb / 1024), 0);
  const wru = input.dynamo.wcu + input.dynamo.failedConditionalWrites;
  const computeDetail = input.functions
    .filter((f) => f.invocationsPerRequest > 0)
    .map((f) => `${f.name} ${round(f.invocationsPerRequest)} × ${f.billedMs.toFixed(1)} ms × ${f.memoryMb} MB`)
    .join('; ');
  const lines: CostLine[] = [
    {
      item: 'API Gateway HTTP API requests',
      perArtifact: `${round(apiRequests)}`,
      unitPrice: `$${PRICES.apiGatewayHttpPerMillion.toFixed(2)} / million`,
      perMillion: apiRequests * PRICES.apiGatewayHttpPerMillion,
    },
    {
      item: 'Lambda invocations (arm64)',
      perArtifact: `${round(invocations)}`,
      unitPrice: `$${PRICES.lambdaRequestsPerMillion.toFixed(2)} / million`,
      perMillion: invocations * PRICES.lambdaRequestsPerMillion,
    },
    {
      item: `Lambda compute (${computeDetail})`,
      perArtifact: `${gbSeconds.toFixed(4)} GB-s`,
      unitPrice: `$${PRICES.lambdaGbSecond} / GB-s`,
      perMillion: gbSeconds * 1e6 * PRICES.lambdaGbSecond,
    },
    {
      item: `DynamoDB write request units (${round(input.dynamo.wcu)} reported + ${round(input.dynamo.failedConditionalWrites)} failed conditional writes)`,
      perArtifact: `${round(wru)}`,
      unitPrice: `$${PRICES.dynamoWriteRequestUnitPerMillion.toFixed(2)} / million`,
      perMillion: wru * PRICES.dynamoWriteRequestUnitPerMillion,
    },
    {
      item: `DynamoDB read request units (${round(input.dynamo.reportedRcu)} reported + the minimum charge of the reads that found nothing)`,
      perArtifact: `${round(input.dynamo.rcu)}`,
      unitPrice: `$${PRICES.dynamoReadRequestUnitPerMillion.toFixed(2)} / million`,
      perMillion: input.dynamo.rcu * PRICES.dynamoReadRequestUnitPerMillion,
    },
    {
      item: 'SQS requests',
      perArtifact: `${round(input.sqsRequests)}`,
      unitPrice: `$${PRICES.sqsStandardPerMillion.toFixed(2)} / million`,
      perMillion: input.sqsRequests * PRICES.sqsStandardPerMillion,
    },
  ];
  return { lines, totalPerMillion: lines.reduce((n, l) => n + l.perMillion, 0), apiRequests, invocations, gbSeconds };
}
