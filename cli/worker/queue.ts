/**
 * The worker's own SQS queue (GET worker/queue/): the server puts
 * `{"type":"work_request_available","work_request_id"}` and `{"type":"abort","work_request_id"}`
 * there; the worker long-polls it and never polls the API for work.
 */
import { parseJsonRecord } from './protocol';

export interface QueueMessage {
  body: string;
  receiptHandle: string;
}

export interface WorkerQueue {
  /** One long poll (up to 20 s); rejects when `signal` aborts it. */
  receive(signal: AbortSignal): Promise<QueueMessage[]>;
  delete(message: QueueMessage): Promise<void>;
  close?(): void;
}

export type WorkerMessage = { type: 'work_request_available'; workRequestId: number } | { type: 'abort'; workRequestId: number };

/** Accepts the documented snake_case field and the camelCase one of shared/ports. */
export function parseWorkerMessage(body: string): WorkerMessage | undefined {
  const m = parseJsonRecord(body);
  if (!m) return undefined;
  const id = Number(m.work_request_id ?? m.workRequestId);
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  if (m.type === 'work_request_available' || m.type === 'abort') return { type: m.type, workRequestId: id };
  return undefined;
}
