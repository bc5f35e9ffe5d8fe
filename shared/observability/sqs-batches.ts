/**
 * The two shapes of Conveyor's SQS consumers, on Powertools' batch processing (partial batch
 * responses, the Lambda context in the logs):
 *
 * - `eachRecord`: every message is its own piece of work (a server task, a file to verify, a
 *   socket to greet); a failed one is reported alone and comes back.
 * - `wholeBatch`: the messages are parsed one by one and then applied together in one call (a
 *   scheduling pass, a batch of heartbeats, a batch of usage events): one call for the batch is the
 *   point. When it fails, every message that was part of it fails and comes back (or, where the
 *   consumer gives `applyOne`, each is tried alone so that one bad message does not hold back the
 *   rest).
 *
 * A message that cannot be parsed can never succeed: it is logged and dropped (deleted with the
 * batch) rather than retried into the dead-letter queue.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { errorKeys, logger, withLambdaContext, type WorkKeys } from './logger';

export type SqsConsumer = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

interface Parsing<M> {
  /** What a message is, for the log lines ("heartbeat", "file-verification"...). */
  what: string;
  /** The message of a record's body; throws when it is malformed. */
  parse: (body: string) => M;
  /** The log keys of a message (`work_request_id`, `worker`, `workspace`). */
  keysOf?: (message: M) => WorkKeys;
}

/** A consumer that handles each message on its own, one after the other. */
export function eachRecord<M>(options: Parsing<M> & { handle: (message: M) => Promise<void> }): SqsConsumer {
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    const message = parseOrDrop(options, record);
    if (message === DROPPED) return;
    try {
      await options.handle(message);
    } catch (err) {
      logger.error(`${options.what} failed; the message will be delivered again`, { message_id: record.messageId, ...options.keysOf?.(message), ...errorKeys(err) });
      throw err;
    }
  };
  return withLambdaContext(async (event, context) => processRecords(event, context, recordHandler));
}

/** A consumer that applies all the well-formed messages of a batch in one call. */
export function wholeBatch<M>(
  options: Parsing<M> & {
    applyAll: (messages: M[]) => Promise<void>;
    /** When the whole batch failed: each message alone, so that only the ones that fail come back. */
    applyOne?: (message: M) => Promise<void>;
  },
): SqsConsumer {
  return withLambdaContext(async (event, context) => {
    const parsed = new Map<string, M>();
    for (const record of event.Records) {
      const message = parseOrDrop(options, record);
      if (message !== DROPPED) parsed.set(record.messageId, message);
    }
    if (parsed.size === 0) return { batchItemFailures: [] };
    let whole: Promise<void> | undefined;
    const applyWhole = () =>
      (whole ??= options.applyAll([...parsed.values()]).catch((err: unknown) => {
        logger.error(`applying a batch of ${parsed.size} ${options.what} messages failed${options.applyOne ? '; applying them one by one' : '; they will be delivered again'}`, errorKeys(err));
        throw err;
      }));
    const recordHandler = async (record: SQSRecord): Promise<void> => {
      const message = parsed.get(record.messageId);
      if (message === undefined) return; // dropped above
      try {
        await applyWhole();
      } catch (err) {
        if (!options.applyOne) throw err;
        try {
          await options.applyOne(message);
        } catch (oneErr) {
          logger.error(`${options.what} failed; the message will be delivered again`, { message_id: record.messageId, ...options.keysOf?.(message), ...errorKeys(oneErr) });
          throw oneErr;
        }
      }
    };
    return processRecords(event, context, recordHandler);
  });
}

const DROPPED = Symbol('dropped');

function parseOrDrop<M>(options: Parsing<M>, record: SQSRecord): M | typeof DROPPED {
  try {
    return options.parse(record.body);
  } catch (err) {
    logger.error(`dropping malformed ${options.what} message`, { message_id: record.messageId, body: record.body.slice(0, 500), ...errorKeys(err) });
    return DROPPED;
  }
}

/** One record after the other (the order of the batch); a full batch failure is answered, not thrown. */
function processRecords(event: SQSEvent, context: Context | undefined, recordHandler: (record: SQSRecord) => Promise<void>): Promise<SQSBatchResponse> {
  return processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), {
    ...(context ? { context } : {}),
    processInParallel: false,
    throwOnFullBatchFailure: false,
  });
}
