/**
 * SDK middlewares that count what the service asks of AWS: requests per command, DynamoDB capacity
 * units as DynamoDB itself reports them (`ReturnConsumedCapacity: 'TOTAL'` is added to every command
 * that accepts it), and failed requests by error name (a failed conditional write is still billed by
 * AWS, but its error response carries no `ConsumedCapacity`).
 *
 * DynamoDB Local (3.3.0) under-reports `TransactWriteItems`: whatever the number of actions, it reports
 * the units of one item per table (1, 2, 3 or 10 small puts all report 2 WCU). For transactions the
 * tally therefore uses units computed from the items themselves (read back before and after, with an
 * uncounted client) by DynamoDB's rules; the same computation is checked against what DynamoDB Local
 * reports for every single-item write (`calibration`), where its numbers are right.
 */
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  type AttributeValue,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { appendFileSync } from 'node:fs';
import { SQSClient } from '@aws-sdk/client-sqs';

/** Commands that accept `ReturnConsumedCapacity`. */
const CAPACITY_COMMANDS = new Set([
  'GetItemCommand',
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'BatchWriteItemCommand',
  'TransactGetItemsCommand',
  'TransactWriteItemsCommand',
  'ExecuteStatementCommand',
  'BatchExecuteStatementCommand',
  'ExecuteTransactionCommand',
]);

/** The smallest read charge of one request (eventually consistent; strongly consistent is twice that). */
const MINIMUM_READ: Record<string, number> = { GetItemCommand: 0.5, QueryCommand: 0.5, ScanCommand: 0.5 };

const READ_COMMANDS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand', 'TransactGetItemsCommand']);

/** One counter set; `snapshot()`/`since()` give the cost of one operation. */
export class Tally {
  requests: Record<string, number> = {};
  failures: Record<string, number> = {};
  rcu = 0;
  wcu = 0;
  /** Requests that should have reported capacity but did not (DynamoDB only). */
  unreported = 0;
  /** WCU as DynamoDB Local reported them (before the TransactWriteItems correction). */
  reportedWcu = 0;
  /**
   * Read units with AWS's minimum charge per read request applied: DynamoDB Local reports 0 for a
   * GetItem or Query that finds nothing, AWS bills at least 0.5 (eventually consistent) or 1
   * (strongly consistent) read unit for it.
   */
  rcuBilled = 0;
  /** Items returned to the caller: `Count` of Query/Scan, 1 per GetItem hit, BatchGet/TransactGet responses. */
  itemsReturned = 0;
  /** Items DynamoDB read: `ScannedCount` of Query/Scan (before any filter), plus the items of Get* reads. */
  itemsScanned = 0;
  /** Single-item writes where the computed units matched DynamoDB Local's report, out of `total`. */
  calibration = { agree: 0, total: 0, mismatches: [] as string[] };

  countRequest(command: string): void {
    this.requests[command] = (this.requests[command] ?? 0) + 1;
  }

  countFailure(command: string, error: unknown): void {
    const name = typeof error === 'object' && error !== null && 'name' in error ? String((error as { name: unknown }).name) : 'Error';
    const key = `${command}:${name}`;
    this.failures[key] = (this.failures[key] ?? 0) + 1;
  }

  snapshot(): TallySnapshot {
    return {
      requests: { ...this.requests },
      failures: { ...this.failures },
      rcu: this.rcu,
      wcu: this.wcu,
      reportedWcu: this.reportedWcu,
      unreported: this.unreported,
      itemsReturned: this.itemsReturned,
      itemsScanned: this.itemsScanned,
      rcuBilled: this.rcuBilled,
    };
  }

  since(before: TallySnapshot): TallySnapshot {
    return diff(this.snapshot(), before);
  }
}

export interface TallySnapshot {
  requests: Record<string, number>;
  failures: Record<string, number>;
  rcu: number;
  /** Write units, with TransactWriteItems recomputed (see above). */
  wcu: number;
  /** Write units as DynamoDB Local reported them. */
  reportedWcu: number;
  unreported: number;
  /** Items returned by reads (see `Tally.itemsReturned`). */
  itemsReturned: number;
  /** Items read by DynamoDB (see `Tally.itemsScanned`). */
  itemsScanned: number;
  /** RCU with the minimum charge per read request (see `Tally.rcuBilled`). */
  rcuBilled: number;
}

export function emptySnapshot(): TallySnapshot {
  return { requests: {}, failures: {}, rcu: 0, wcu: 0, reportedWcu: 0, unreported: 0, itemsReturned: 0, itemsScanned: 0, rcuBilled: 0 };
}

function diffCounts(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

export function diff(after: TallySnapshot, before: TallySnapshot): TallySnapshot {
  return {
    requests: diffCounts(after.requests, before.requests),
    failures: diffCounts(after.failures, before.failures),
    rcu: round(after.rcu - before.rcu),
    wcu: round(after.wcu - before.wcu),
    reportedWcu: round(after.reportedWcu - before.reportedWcu),
    unreported: after.unreported - before.unreported,
    itemsReturned: after.itemsReturned - before.itemsReturned,
    itemsScanned: after.itemsScanned - before.itemsScanned,
    rcuBilled: round(after.rcuBilled - before.rcuBilled),
  };
}

export function sum(a: TallySnapshot, b: TallySnapshot): TallySnapshot {
  const add = (x: Record<string, number>, y: Record<string, number>): Record<string, number> => {
    const out = { ...x };
    for (const [key, value] of Object.entries(y)) out[key] = (out[key] ?? 0) + value;
    return out;
  };
  return {
    requests: add(a.requests, b.requests),
    failures: add(a.failures, b.failures),
    rcu: round(a.rcu + b.rcu),
    wcu: round(a.wcu + b.wcu),
    reportedWcu: round(a.reportedWcu + b.reportedWcu),
    unreported: a.unreported + b.unreported,
    itemsReturned: a.itemsReturned + b.itemsReturned,
    itemsScanned: a.itemsScanned + b.itemsScanned,
    rcuBilled: round(a.rcuBilled + b.rcuBilled),
  };
}

export function totalRequests(snapshot: TallySnapshot): number {
  return Object.values(snapshot.requests).reduce((n, v) => n + v, 0);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

interface ConsumedCapacityLike {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

/** Adds one `ConsumedCapacity` (object or array) to the tally; false if there was none. */
function addCapacity(tally: Tally, command: string, consumed: unknown, input: Record<string, unknown>): boolean {
  const entries: ConsumedCapacityLike[] = Array.isArray(consumed)
    ? (consumed as ConsumedCapacityLike[])
    : consumed && typeof consumed === 'object'
      ? [consumed as ConsumedCapacityLike]
      : [];
  if (entries.length === 0) return false;
  let read = 0;
  for (const entry of entries) {
    read += entry.ReadCapacityUnits ?? (READ_COMMANDS.has(command) ? (entry.CapacityUnits ?? 0) : 0);
  }
  const minimum = MINIMUM_READ[command];
  tally.rcuBilled += minimum === undefined ? read : Math.max(read, input['ConsistentRead'] === true ? minimum * 2 : minimum);
  for (const entry of entries) {
    const read = entry.ReadCapacityUnits;
    const write = entry.WriteCapacityUnits;
    if (read !== undefined || write !== undefined) {
      tally.rcu += read ?? 0;
      tally.wcu += write ?? 0;
    } else if (READ_COMMANDS.has(command)) {
      tally.rcu += entry.CapacityUnits ?? 0;
    } else {
      tally.wcu += entry.CapacityUnits ?? 0;
      tally.reportedWcu += entry.CapacityUnits ?? 0;
    }
  }
  return true;
}

/** Counts the items a read returned and the items DynamoDB read for it. */
function addItems(tally: Tally, command: string, output: unknown): void {
  const out = (output ?? {}) as { Count?: number; ScannedCount?: number; Item?: unknown; Responses?: unknown };
  if (command === 'QueryCommand' || command === 'ScanCommand') {
    tally.itemsReturned += out.Count ?? 0;
    tally.itemsScanned += out.ScannedCount ?? out.Count ?? 0;
  } else if (command === 'GetItemCommand') {
    const n = out.Item ? 1 : 0;
    tally.itemsReturned += n;
    tally.itemsScanned += n;
  } else if (command === 'BatchGetItemCommand') {
    const responses = (out.Responses ?? {}) as Record<string, unknown[]>;
    const n = Object.values(responses).reduce((sum, items) => sum + (Array.isArray(items) ? items.length : 0), 0);
    tally.itemsReturned += n;
    tally.itemsScanned += n;
  } else if (command === 'TransactGetItemsCommand') {
    const n = Array.isArray(out.Responses) ? (out.Responses as { Item?: unknown }[]).filter((r) => r.Item).length : 0;
    tally.itemsReturned += n;
    tally.itemsScanned += n;
  }
}

function reportedUnits(consumed: unknown): number {
  const entries: ConsumedCapacityLike[] = Array.isArray(consumed) ? (consumed as ConsumedCapacityLike[]) : consumed ? [consumed as ConsumedCapacityLike] : [];
  return entries.reduce((n, e) => n + (e.WriteCapacityUnits ?? e.CapacityUnits ?? 0), 0);
}

// ---------------------------------------------------------------- write units from the items

type Wire = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

interface TableSchema {
  keys: string[];
  indexes: { name: string; keys: string[] }[];
}

function utf8(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** DynamoDB's number size: about one byte per two significant digits, plus one. */
function numberSize(n: string): number {
  const digits = n.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

function binarySize(b: unknown): number {
  if (b instanceof Uint8Array) return b.length;
  if (typeof b === 'string') return Buffer.from(b, 'base64').length;
  return 0;
}

/** Size of one attribute value by DynamoDB's item size rules. */
function valueSize(value: unknown): number {
  const v = value as Record<string, unknown>;
  if (typeof v['S'] === 'string') return utf8(v['S']);
  if (typeof v['N'] === 'string') return numberSize(v['N']);
  if (v['B'] !== undefined) return binarySize(v['B']);
  if (v['BOOL'] !== undefined || v['NULL'] !== undefined) return 1;
  if (Array.isArray(v['SS'])) return (v['SS'] as string[]).reduce((n, x) => n + utf8(x), 0);
  if (Array.isArray(v['NS'])) return (v['NS'] as string[]).reduce((n, x) => n + numberSize(x), 0);
  if (Array.isArray(v['BS'])) return (v['BS'] as unknown[]).reduce((n: number, x) => n + binarySize(x), 0);
  if (Array.isArray(v['L'])) return 3 + (v['L'] as unknown[]).reduce((n: number, x) => n + 1 + valueSize(x), 0);
  if (v['M'] && typeof v['M'] === 'object') {
    return 3 + Object.entries(v['M'] as Record<string, unknown>).reduce((n, [k, x]) => n + utf8(k) + 1 + valueSize(x), 0);
  }
  return 0;
}

export function itemSize(item: Item | Wire | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce((n, [name, value]) => n + utf8(name) + valueSize(value), 0);
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Wire-format (JSON) key → SDK AttributeValues (only B needs converting). */
function toAttributeValues(key: Wire): Item {
  const out: Item = {};
  for (const [name, value] of Object.entries(key)) {
    const v = value as Record<string, unknown>;
    out[name] = (typeof v['B'] === 'string' ? { B: Buffer.from(v['B'], 'base64') } : v) as unknown as AttributeValue;
  }
  return out;
}

/**
 * Write units of one item write: `factor` (2 in a transaction) × ⌈size/1 KB⌉ for the table, size being
 * the larger of the item before and after; the same for every GSI entry written (an entry whose index
 * keys change is deleted and written again: two writes).
 */
function writeUnits(schema: TableSchema, before: Item | undefined, after: Item | undefined, factor: number): number {
  const kb = (size: number): number => Math.max(1, Math.ceil(size / 1024));
  const sizeBefore = itemSize(before);
  const sizeAfter = itemSize(after);
  let units = factor * kb(Math.max(sizeBefore, sizeAfter));
  for (const index of schema.indexes) {
    const inBefore = before !== undefined && index.keys.every((k) => before[k] !== undefined);
    const inAfter = after !== undefined && index.keys.every((k) => after[k] !== undefined);
    if (inBefore && inAfter) {
      const sameKeys = index.keys.every((k) => sameValue(before[k], after[k]));
      units += sameKeys ? factor * kb(Math.max(sizeBefore, sizeAfter)) : factor * (kb(sizeBefore) + kb(sizeAfter));
    } else if (inAfter) units += factor * kb(sizeAfter);
    else if (inBefore) units += factor * kb(sizeBefore);
  }
  return units;
}

class ItemReader {
  private readonly schemas = new Map<string, Promise<TableSchema>>();

  constructor(private readonly raw: DynamoDBClient) {}

  schema(table: string): Promise<TableSchema> {
    let found = this.schemas.get(table);
    if (!found) {
      found = this.raw.send(new DescribeTableCommand({ TableName: table })).then(({ Table }) => ({
        keys: (Table?.KeySchema ?? []).map((k) => k.AttributeName ?? ''),
        indexes: (Table?.GlobalSecondaryIndexes ?? []).map((i) => ({ name: i.IndexName ?? '', keys: (i.KeySchema ?? []).map((k) => k.AttributeName ?? '') })),
      }));
      this.schemas.set(table, found);
    }
    return found;
  }

  async get(table: string, key: Item): Promise<Item | undefined> {
    const { Item } = await this.raw.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
    return Item;
  }
}

interface PlannedWrite {
  table: string;
  key: Item;
  kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck';
  before?: Item;
}

async function planWrite(reader: ItemReader, kind: PlannedWrite['kind'], action: Wire): Promise<PlannedWrite> {
  const table = String(action['TableName']);
  const schema = await reader.schema(table);
  const source = (kind === 'Put' ? action['Item'] : action['Key']) as Wire;
  const key = toAttributeValues(Object.fromEntries(schema.keys.map((k) => [k, source[k]])));
  return { table, key, kind, before: await reader.get(table, key) };
}

async function unitsAfter(reader: ItemReader, write: PlannedWrite, factor: number): Promise<number> {
  const schema = await reader.schema(write.table);
  if (write.kind === 'ConditionCheck') return factor * Math.max(1, Math.ceil(itemSize(write.before) / 1024));
  const after = write.kind === 'Delete' ? undefined : await reader.get(write.table, write.key);
  return writeUnits(schema, write.before, after, factor);
}

const SINGLE_WRITES: Record<string, PlannedWrite['kind']> = { PutItemCommand: 'Put', UpdateItemCommand: 'Update', DeleteItemCommand: 'Delete' };

function parseBody(request: unknown): Wire | undefined {
  const body = (request as { body?: unknown } | undefined)?.body;
  const text = typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8') : undefined;
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Wire;
  } catch {
    return undefined;
  }
}

/** A DynamoDB client whose every command is counted in `tally`, with capacity reporting switched on. */
export function countingDynamoClient(config: DynamoDBClientConfig, tally: Tally): DynamoDBClient {
  const client = new DynamoDBClient(config);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'UnknownCommand';
      const wantsCapacity = CAPACITY_COMMANDS.has(command);
      const input = args.input as Record<string, unknown>;
      const request = wantsCapacity && input['ReturnConsumedCapacity'] === undefined ? { ...args, input: { ...input, ReturnConsumedCapacity: 'TOTAL' } } : args;
      tally.countRequest(command);
      try {
        const result = await next(request);
        const output = result.output as { ConsumedCapacity?: unknown };
        if (process.env['BENCH_DYNAMO_LOG']) logRequest(process.env['BENCH_DYNAMO_LOG'], command, request.input as Record<string, unknown>, output.ConsumedCapacity);
        if (wantsCapacity && !addCapacity(tally, command, output.ConsumedCapacity, request.input as Record<string, unknown>)) tally.unreported += 1;
        addItems(tally, command, result.output);
        return result;
      } catch (err) {
        tally.countFailure(command, err);
        throw err;
      }
    },
    { step: 'initialize', name: 'benchCountDynamoDb', priority: 'high' },
  );
  const reader = new ItemReader(new DynamoDBClient(config));
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'UnknownCommand';
      const singleKind = SINGLE_WRITES[command];
      if (command !== 'TransactWriteItemsCommand' && singleKind === undefined) return next(args);
      const body = parseBody(args.request);
      if (!body) return next(args);
      const factor = command === 'TransactWriteItemsCommand' ? 2 : 1;
      const writes: PlannedWrite[] = [];
      if (singleKind) writes.push(await planWrite(reader, singleKind, body));
      else {
        for (const action of (body['TransactItems'] ?? []) as Wire[]) {
          const [kind, inner] = Object.entries(action)[0] ?? [];
          if (kind === 'Put' || kind === 'Update' || kind === 'Delete' || kind === 'ConditionCheck') writes.push(await planWrite(reader, kind, inner as Wire));
        }
      }
      const result = await next(args); // a failure propagates: nothing to recompute
      let computed = 0;
      for (const write of writes) computed += await unitsAfter(reader, write, factor);
      const reported = reportedUnits((result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity);
      if (writes.length === 1) {
        tally.calibration.total += 1;
        if (computed === reported) tally.calibration.agree += 1;
        else if (tally.calibration.mismatches.length < 10) tally.calibration.mismatches.push(`${command} (${writes[0]!.kind}): computed ${computed}, reported ${reported}`);
      }
      if (command === 'TransactWriteItemsCommand') tally.wcu += computed - reported;
      return result;
    },
    { step: 'build', name: 'benchTransactionUnits', priority: 'low' },
  );
  return client;
}

/**
 * With BENCH_DYNAMO_LOG=<file>: one line per DynamoDB request (command, table, key or index and key
 * condition, consistency, capacity) appended to the file, to trace which reads a step makes and why.
 */
function logRequest(file: string, command: string, input: Record<string, unknown>, consumed: unknown): void {
  const keys = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && 'S' in v ? (v as { S: string }).S : v && typeof v === 'object' && 'N' in v ? Number((v as { N: string }).N) : v));
  const detail = {
    table: input['TableName'],
    key: input['Key'] ? keys(input['Key']) : undefined,
    index: input['IndexName'],
    condition: input['KeyConditionExpression'] ? `${String(input['KeyConditionExpression'])} ${keys(input['ExpressionAttributeValues'])}` : undefined,
    batch: input['RequestItems'] ? keys(input['RequestItems']) : undefined,
    consistent: input['ConsistentRead'],
    item: input['Item'] ? keys({ pk: (input['Item'] as Record<string, unknown>)['pk'], sk: (input['Item'] as Record<string, unknown>)['sk'] }) : undefined,
    capacity: consumed,
  };
  appendFileSync(file, `${command.replace(/Command$/, '')} ${JSON.stringify(detail)}\n`);
}

/** Counts commands sent through an S3 or SQS client (one per command; no retries happen on loopback). */
export function countCommands<C extends S3Client | SQSClient>(client: C, tally: Tally): C {
  (client as S3Client).middlewareStack.add(
    (next, context) => async (args) => {
      tally.countRequest(context.commandName ?? 'UnknownCommand');
      try {
        return await next(args);
      } catch (err) {
        tally.countFailure(context.commandName ?? 'UnknownCommand', err);
        throw err;
      }
    },
    { step: 'initialize', name: 'benchCountCommands', priority: 'high' },
  );
  return client;
}
