/** Renders BENCHMARKS.md from the measurements. */
import { failedConditionalWrites, type CapacityResults, type OperationCost } from './capacity';
import type { CostModel } from './cost';
import type { PhaseResult } from './http';
import type { HandlerTimings } from './lambda';
import { fmt, fmtBytes, fmtMs, fmtUsd, sizeLabel } from './stats';
import type { TallySnapshot } from './counters';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  loadAtStart: number[];
  loadAtEnd: number[];
}

export interface ReportInput {
  command: string;
  date: Date;
  runSeconds: number;
  machine: Machine;
  phases: PhaseResult[];
  /** Sections 1–3; absent when `--only` left them out. */
  capacity?: CapacityResults;
  lambda?: HandlerTimings;
  cost?: CostModel;
  capacityFileSize: number;
  warnings: string[];
  /** Sections 4–7 (work requests), rendered by bench/work-report.ts. */
  workRequests?: string;
  /** Section 8 (workflows), rendered by bench/workflow-report.ts. */
  workflows?: string;
  /** Section 9 (floor, start-up, bundles), rendered by bench/speed.ts. */
  speed?: string;
  /** The sections `--only` picked, when not all. */
  only?: string[];
}

function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function commands(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return '–';
  return entries.map(([name, n]) => `${name.replace(/Command$/, '')} ×${fmtCount(n)}`).join(', ');
}

function fmtCount(n: number): string {
  return Number.isInteger(n) ? String(n) : fmt(n, 2);
}

function spread(op: OperationCost, key: 'requests' | 'wcu' | 'rcu', value: number): string {
  const [min, max] = op.spread[key];
  return min === max ? fmtCount(value) : `${fmtCount(value)} (${fmtCount(min)}–${fmtCount(max)})`;
}

function failures(snapshot: TallySnapshot): string {
  const n = failedConditionalWrites(snapshot);
  return n === 0 ? '0' : fmtCount(n);
}

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

export function renderReport(input: ReportInput): string {
  const { machine } = input;
  const out: string[] = [];
  out.push(input.only ? `# Benchmarks (partial: ${input.only.join(', ')})` : '# Benchmarks');
  out.push('');
  out.push(
    `Produced by \`${input.command}\` on ${input.date.toISOString().replace(/\.\d+Z$/, 'Z')} (whole run: ${fmt(input.runSeconds, 0)} s). ` +
      'Every figure below comes from this one run; the file is overwritten by the next.',
  );
  out.push('');
  out.push(
    table(
      ['machine', ''],
      [
        ['CPU', `${machine.cpuModel}`],
        ['cores', `${machine.cores}`],
        ['memory', `${fmt(machine.memoryGiB, 1)} GiB`],
        ['Node.js', machine.node],
        ['OS', machine.os],
        ['load average (1/5/15 min) at start → end', `${machine.loadAtStart.map((l) => fmt(l, 2)).join(' / ')} → ${machine.loadAtEnd.map((l) => fmt(l, 2)).join(' / ')}`],
      ],
    ),
  );
  out.push('');
  out.push('## How to read these numbers');
  out.push('');
  out.push(
    [
      '- **Sections 1 and 3 run on the local stack** (`conveyor dev`, started in-process on a temporary data dir): DynamoDB Local (Java, SQLite),',
      '  s3rver (writes objects to the local disk) and local-aws-sqs, all on one shared 2-core machine together with the benchmark client.',
      '  They say how the code paths compare (small vs big files, single vs multipart, dedup vs upload) and catch regressions;',
      '  **they are not AWS numbers**. On AWS, DynamoDB, S3 and Lambda scale out and S3 takes the file bytes at network speed.',
      '- **Section 2 counts are exact and carry over to AWS**: requests per command are counted by an SDK middleware on the clients the',
      '  use cases run with, and capacity units are what DynamoDB Local reports with `ReturnConsumedCapacity: TOTAL` (transactional writes',
      '  count double and GSI writes are included, as on AWS), except for multi-item transactions, which DynamoDB Local under-reports and',
      '  the benchmark recomputes from the items (see section 2). The same code makes the same requests on AWS. Lambda durations are local',
      '  measurements and only an estimate of AWS durations.',
      '- The local stack verifies single-PUT uploads by reading the object back (`CONVEYOR_S3_VERIFY=readback`: s3rver checks no checksum).',
      '  On AWS (`checksum` mode) `upload-complete` needs one `HeadObject` instead of `HeadObject` + `GetObject`, and S3 itself rejects',
      '  bytes that do not match the signed SHA-256; the big-file latencies below therefore include a full local read-back and hash.',
      '- Latency is the wall time of the whole create → complete sequence of one artifact as the client sees it; generating the random',
      '  bytes and hashing them happen before the timer starts. Requests per second = artifacts completed per second.',
      '- **Sections 4 and 5 (work-request dispatch and throughput) also run on the local stack**, with real `conveyor worker` processes on',
      '  the same machine: they show where the time goes (batching window, queue hops, task process start) and how it scales here, not on AWS.',
      '  **Sections 6 and 7 count DynamoDB and SQS requests exactly**, like section 2; Lambda invocations per request are counted on the',
      '  stack by wrapping the handlers it loads, and their durations are local estimates.',
      '- **Section 8 (workflows) drives the orchestrator in-process** against DynamoDB Local: its DynamoDB counts are exact like section 2;',
      '  its latencies are the in-process steps only, without any SQS queueing delay.',
    ].join('\n'),
  );
  out.push('');

  // ------------------------------------------------------------------ 1
  if (input.capacity && input.lambda && input.cost) renderArtifactSections(out, { ...input, capacity: input.capacity, lambda: input.lambda, cost: input.cost });
  if (input.workRequests) {
    out.push('');
    out.push(input.workRequests.trimEnd());
  }
  if (input.workflows) {
    out.push('');
    out.push(input.workflows.trimEnd());
  }
  if (input.speed) {
    out.push('');
    out.push(input.speed.trimEnd());
  }
  if (input.warnings.length > 0) {
    out.push('');
    out.push('## Warnings logged by the local stack during the run');
    out.push('');
    for (const w of input.warnings.slice(0, 20)) out.push(`- ${w.replace(/\n/g, ' ').slice(0, 300)}`);
    if (input.warnings.length > 20) out.push(`- … ${input.warnings.length - 20} more`);
  }
  out.push('');
  return out.join('\n');
}

/** Sections 1–3: uploads, DynamoDB capacity and cost per artifact, file bytes. */
function renderArtifactSections(out: string[], input: ReportInput & Required<Pick<ReportInput, 'capacity' | 'lambda' | 'cost'>>): void {
  const { phases, capacity, lambda, cost } = input;
    out.push('## 1. Uploads through the HTTP API (presigned URLs)');
    out.push('');
    out.push(
      'Each iteration: `POST artifact/` (one file, fresh random bytes so that nothing is deduplicated) → `POST upload/<path>/` → ' +
        '`PUT` of the bytes to the presigned S3 URL → `POST upload-complete/<path>/`. Files above 100 MiB get a multipart plan ' +
        '(16 MiB parts, 4 PUTs in flight): `upload-complete` answers 202 and the client polls `GET artifact/<id>/` (every 50 ms) until the ' +
        'background verifier (SQS → file-verifier) marks the file complete; that wait is inside the measured time. The dedup row creates ' +
        'artifacts whose bytes the workspace already holds: the server answers with no `files_to_upload`, so one request completes the artifact.',
    );
    out.push('');
    out.push(
      table(
        ['case', 'iterations', 'concurrency', 'upload path', 'artifacts/s', 'MiB/s', 'p50', 'p95', 'mean'],
        phases.map((p) => [
          p.name,
          String(p.iterations),
          String(p.concurrency),
          p.methods.join(', ') === 'none' ? 'none (dedup)' : p.methods.join(', '),
          fmt(p.artifactsPerSecond, p.artifactsPerSecond < 10 ? 2 : 1),
          fmt(p.mibPerSecond, p.mibPerSecond < 10 ? 2 : 1),
          fmtMs(p.p50Ms),
          fmtMs(p.p95Ms),
          fmtMs(p.meanMs),
        ]),
        ['l', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    out.push('');
    out.push('Median wall time of each step (client side, through the proxy):');
    out.push('');
    out.push(
      table(
        ['case', '`POST artifact/`', '`POST upload/`', 'PUT to S3', '`POST upload-complete/` (+ verification wait)'],
        phases.map((p) => [
          p.name,
          fmtMs(p.stepsP50.create),
          p.uploadedCount > 0 ? fmtMs(p.stepsP50.plan) : '–',
          p.uploadedCount > 0 ? fmtMs(p.stepsP50.put) : '–',
          p.uploadedCount > 0 ? fmtMs(p.stepsP50.complete) : '–',
        ]),
        ['l', 'r', 'r', 'r', 'r'],
      ),
    );
    const multipart = phases.filter((p) => p.meanVerifyMs !== undefined);
    for (const p of multipart) {
      out.push('');
      out.push(`${p.name}: of the mean ${fmtMs(p.meanMs)}, ${fmtMs(p.meanVerifyMs ?? Number.NaN)} is the wait for the background verification after \`upload-complete\` answered 202.`);
    }
    const dedup = phases.find((p) => p.methods.join() === 'none');
    const mib = phases.find((p) => p.size === dedup?.size && p.methods.includes('single') && p.concurrency === 1);
    if (dedup && mib) {
      out.push('');
      out.push(
        `Dedup vs upload at ${sizeLabel(dedup.size)}: p50 ${fmtMs(dedup.p50Ms)} vs ${fmtMs(mib.p50Ms)} ` +
          `(${fmt(mib.p50Ms / dedup.p50Ms, 1)}× faster; 1 API request instead of 3 plus the PUT).`,
      );
    }
    out.push('');

    // ------------------------------------------------------------------ 2
    out.push('## 2. DynamoDB capacity and requests per operation');
    out.push('');
    out.push(
      `Use cases from \`shared/app/\` called in-process with a user caller (token of a \`contributor\`), through clients built by ` +
        '`createAwsDeps(env, { dynamoClient, s3, sqs })` whose middlewares add `ReturnConsumedCapacity: TOTAL` and tally requests by command, ' +
        `\`ConsumedCapacity\` (objects and arrays), and failed requests. Files are ${sizeLabel(input.capacityFileSize)}; ` +
        'each operation is repeated and averaged (a range in brackets means the repetitions differed).',
    );
    out.push('');
    const rows = [...capacity.operations, capacity.fullSequence].map((op) => [
      op.label,
      String(op.repetitions),
      commands(op.dynamo.requests),
      spread(op, 'requests', total(op.dynamo.requests)),
      spread(op, 'rcu', op.dynamo.rcu),
      spread(op, 'wcu', op.dynamo.wcu),
      fmtCount(op.dynamo.reportedWcu),
      failures(op.dynamo),
      commands(op.s3.requests),
      commands(op.sqs.requests),
    ]);
    out.push(
      table(
        ['operation', 'reps', 'DynamoDB requests by command', 'DynamoDB requests', 'RCU', 'WCU', 'WCU as DynamoDB Local reports', 'failed conditional writes', 'S3 requests', 'SQS requests'],
        rows,
        ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
      ),
    );
    out.push('');
    out.push(
      [
        '- RCU: 1 unit per 4 KB strongly consistent read, half for eventually consistent ones (GSI queries). WCU: 1 unit per 1 KB written per',
        '  item, doubled inside `TransactWriteItems`, plus the writes to every global secondary index entry the item has (two when its index',
        '  keys change). On-demand tables bill the same numbers as read/write request units.',
        '- **DynamoDB Local under-reports `TransactWriteItems`**: it reports the units of a single item per table whatever the number of',
        '  actions (a transaction of 1, 2, 3 or 10 small puts reports 2 WCU). The WCU column therefore replaces, for transactions only, the',
        '  reported figure by units computed from the items themselves (each item read back before and after the write with an uncounted',
        '  client, sized by DynamoDB\'s rules, 2 units per KB, plus the GSI entries). The same computation run on every single-item write of',
        `  this section matched DynamoDB Local's own report ${input.capacity.calibration.agree} times out of ${input.capacity.calibration.total}` +
          (input.capacity.calibration.mismatches.length > 0 ? ` (mismatches: ${input.capacity.calibration.mismatches.join('; ')})` : '') +
          '; the reported column shows what DynamoDB Local said.',
        '- **Failed conditional writes** answer with an error that carries no `ConsumedCapacity`, so DynamoDB Local (and AWS) report nothing for them,',
        '  but AWS still bills a failed conditional write (at least 1 write unit for an item up to 1 KB). The cost below adds 1 WRU for each.',
        '  Every authenticated request sends one: `touchToken` (`shared/adapters/dynamodb/identity-repository.ts`) is an `UpdateItem` with a',
        '  "not written in the last 5 minutes" condition, which fails on all but one request per token per 5 minutes.',
        `- The last row is one artifact as a client creates it: ${cost.apiRequestsPerArtifact} API requests, each authenticated, plus the client's presigned PUT`,
        '  (counted by hand, it does not go through the service\'s S3 client). `GetObject` in `completeUpload` is the local read-back (see above).',
      ].join('\n'),
    );
    out.push('');
    out.push('### Lambda handler time (artifacts-api, in-process, warm)');
    out.push('');
    out.push(
      `The handler of \`functions/artifacts-api.ts\` (middy stack with authentication, then the route) invoked in-process with the API Gateway v2 events the local gateway builds, ` +
        `${sizeLabel(input.capacityFileSize)} files, against the local emulators. Memory from \`shared/manifest.ts\`: ${lambda.fn.memoryMb} MB. ` +
        'Billed = each invocation rounded up to the next ms.',
    );
    out.push('');
    out.push(
      table(
        ['route', 'invocations', 'p50', 'p95', 'mean', 'billed mean'],
        lambda.routes.map((r) => [`\`${r.routeKey}\``, String(r.invocations), fmtMs(r.p50Ms), fmtMs(r.p95Ms), fmtMs(r.meanMs), fmtMs(r.billedMeanMs)]),
        ['l', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    out.push('');
    out.push('### Cost per million artifact creates (1 file: create + upload + complete)');
    out.push('');
    out.push(
      'AWS on-demand list prices, us-east-1, no free tier; counts from the last row of the table above, Lambda duration from the handler ' +
        'timings (create + upload + upload-complete). Storage, data transfer and CloudWatch Logs are not included.',
    );
    out.push('');
    out.push(
      table(
        ['item', 'per artifact', 'unit price', '$ per million artifacts'],
        [...cost.lines.map((l) => [l.item, l.perArtifact, l.unitPrice, fmtUsd(l.perMillion)]), ['**total**', '', '', `**${fmtUsd(cost.totalPerMillion)}**`]],
        ['l', 'r', 'l', 'r'],
      ),
    );
    if (cost.s3Unclassified.length > 0) {
      out.push('');
      out.push(`S3 commands not priced (unknown class): ${cost.s3Unclassified.join(', ')}.`);
    }
    const shares = [...cost.lines]
      .filter((l) => l.perMillion > 0)
      .sort((a, b) => b.perMillion - a.perMillion)
      .slice(0, 3)
      .map((l) => `${l.item.replace(/ \(.*\)$/, '')} ${fmt((100 * l.perMillion) / cost.totalPerMillion, 0)} %`);
    out.push('');
    out.push(`Largest shares: ${shares.join(', ')}.`);
    out.push('');
    out.push(
      [
        'Observations from these counts:',
        '',
        '- Each API request authenticates with 2 `GetItem` (token, user) and 1 `UpdateItem` (`touchToken`), which fails its condition in the',
        '  steady state and is still billed. The token read by `getTokenByHash` already carries `lastSeenAt`, so checking the 5-minute',
        '  window in code before sending the update would save 1 request and 1 WRU per API call (3 of the WRU above per artifact).',
        '- `completeUpload` copies the verified object from its staging key to its content-addressed key (`CopyObject`, billed as a PUT)',
        '  and deletes the staging object: each new file costs two PUT-class S3 requests, the client\'s PUT and the copy.',
      ].join('\n'),
    );
    out.push('');

    // ------------------------------------------------------------------ 3
    out.push('## 3. File bytes bypass the API');
    out.push('');
    out.push(
      'Every API request of section 1 went through a counting TCP proxy (node:net) in front of the API port, so the bytes the API ' +
        'received are counted on the wire (request lines, headers and JSON bodies). The file bytes went from the client to the ' +
        'presigned S3 URLs directly.',
    );
    out.push('');
    out.push(
      table(
        ['case', 'iterations', 'bytes client → API', 'bytes API → client', 'file bytes client → S3', 'client → API : client → S3'],
        phases.map((p) => [
          p.name,
          String(p.iterations),
          fmtBytes(p.apiBytesIn ?? 0),
          fmtBytes(p.apiBytesOut ?? 0),
          fmtBytes(p.s3Bytes),
          p.s3Bytes > 0 ? ratio((p.apiBytesIn ?? 0) / p.s3Bytes) : 'no upload',
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    const big = phases.filter((p) => p.size >= 100 * 1024 * 1024);
    if (big.length > 0) {
      const apiIn = big.reduce((n, p) => n + (p.apiBytesIn ?? 0), 0);
      const s3 = big.reduce((n, p) => n + p.s3Bytes, 0);
      out.push('');
      out.push(
        `For the big files (${big.map((p) => `${p.iterations} × ${sizeLabel(p.size)}`).join(' and ')}): the API received ` +
          `${apiIn.toLocaleString('en-US')} bytes while ${s3.toLocaleString('en-US')} bytes went to S3 (ratio ${ratio(apiIn / s3)}).`,
      );
    }
}

/** API bytes : S3 bytes, as `1 : N` when the API got less. */
function ratio(r: number): string {
  if (!Number.isFinite(r)) return 'n/a';
  if (r === 0) return '0';
  if (r < 1) return `1 : ${Math.round(1 / r).toLocaleString('en-US')}`;
  return `${fmt(r, 2)} : 1`;
}
