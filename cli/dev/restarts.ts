/**
 * Restarting one emulator of the running local stack in place (reliability part (f), finding 8):
 * DynamoDB Local stops and starts again on its port with the same `-dbPath` (tables and items
 * kept); the SQS emulator comes back empty, so the manifest's queues are provisioned again and the
 * registered workers' queues re-created, under the same names and port (the URLs everyone holds
 * stay valid). Messages that were queued are lost: the scheduler's tick, the watchdog and the
 * workers' "ask for assigned work after the queue failed" re-derive what they carried
 * (docs/decisions.md, "Emulator restarts").
 *
 * Triggered from outside the process by `POST /@local/emulators/{dynamodb|sqs}/restart` with the
 * stack's admin token (`Token:` header): the local gateway answers it before routing, like the
 * WebSocket management API. It exists only in `conveyor dev`; the cloud has no such route.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { RESTARTABLE_EMULATORS, type RestartableEmulator, type RunningEmulators } from './emulators';
import type { Log } from './handlers';
import type { HttpResponse } from './http-response';
import { provisionQueues } from './provision';

export const EMULATOR_CONTROL_PREFIX = '/@local/emulators/';

export interface EmulatorRestart {
  emulator: RestartableEmulator;
  /** From the stop to the emulator answering again, provisioned (wall-clock). */
  seconds: number;
  /** Worker queues re-created (SQS only). */
  workerQueues: number;
}

export async function restartEmulatorInPlace(
  emulators: RunningEmulators,
  name: RestartableEmulator,
  /** Re-creates the registered workers' queues; resolves to how many (command.ts, restoreWorkerQueues). */
  restoreWorkerQueues: () => Promise<number>,
  log: Log,
): Promise<EmulatorRestart> {
  const started = Date.now();
  log('warn', `restarting ${name} in place`);
  await emulators.restart(name);
  let workerQueues = 0;
  if (name === 'sqs') {
    await provisionQueues(emulators.endpoints.sqs);
    workerQueues = await restoreWorkerQueues();
  }
  const seconds = (Date.now() - started) / 1000;
  log('info', `${name} restarted in ${seconds.toFixed(1)} s`);
  return { emulator: name, seconds, workerQueues };
}

/**
 * The gateway's hook for `POST /@local/emulators/NAME/restart`: an answer, or undefined for any
 * other URL. Only the admin token may restart (anyone on loopback could otherwise stall the stack).
 */
export function emulatorControl(adminToken: string, restart: (name: RestartableEmulator) => Promise<EmulatorRestart>) {
  return async (req: IncomingMessage, method: string, url: string): Promise<HttpResponse | undefined> => {
    const path = url.split('?')[0] ?? '';
    if (!path.startsWith(EMULATOR_CONTROL_PREFIX)) return undefined;
    const match = /^([a-z]+)\/restart$/.exec(path.slice(EMULATOR_CONTROL_PREFIX.length));
    const name = RESTARTABLE_EMULATORS.find((n) => n === match?.[1]);
    if (!name) return problem(404, `no such emulator control; try ${RESTARTABLE_EMULATORS.map((n) => `${EMULATOR_CONTROL_PREFIX}${n}/restart`).join(' or ')}`);
    if (method !== 'POST') return problem(405, 'use POST');
    const token = req.headers['token'];
    if (typeof token !== 'string' || !sameSecret(token, adminToken)) return problem(403, 'the admin token of this stack (Token header) is required');
    try {
      return json(200, await restart(name));
    } catch (err) {
      return problem(500, `restarting ${name} failed: ${(err as Error).message}`);
    }
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function json(statusCode: number, body: unknown): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
}

function problem(status: number, detail: string): HttpResponse {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/problem+json' },
    body: Buffer.from(JSON.stringify({ type: 'about:blank', title: 'Emulator control', status, detail })),
  };
}
