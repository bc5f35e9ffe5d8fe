/** Greets the WebSockets opened by `$connect` (see functions/websocket-api.ts), one message per socket. */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsDeps } from '../shared/adapters/aws';
import { greetSocket, hasSockets } from '../shared/app/sockets';
import type { Deps } from '../shared/ports';

let deps: Deps | undefined;

export function socketGreeterHandler(getDeps: () => Deps) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const current = getDeps();
    if (!hasSockets(current)) throw new Error('the socket greeter needs the connections table');
    const batchItemFailures: { itemIdentifier: string }[] = [];
    for (const record of event.Records) {
      let connectionId: unknown;
      try {
        connectionId = (JSON.parse(record.body) as { connectionId?: unknown }).connectionId;
      } catch {
        connectionId = undefined;
      }
      if (typeof connectionId !== 'string' || connectionId === '') {
        console.error('dropping malformed socket greeting', record.messageId, record.body.slice(0, 200));
        continue;
      }
      try {
        await greetSocket(current, connectionId);
      } catch (err) {
        console.error('greeting failed; it will be retried', connectionId, err);
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  };
}

export const handler = socketGreeterHandler(() => (deps ??= createAwsDeps()));
