/**
 * Machines: Launchpad's CodeImportMachine states on Conveyor's workers (reference/launchpad_reana.md
 * §A.6, SPEC §5). A worker is a machine; its concurrency is the machine's worker_limit.
 *
 * ONLINE takes work; QUIESCING takes no new work, finishes what it runs, then goes OFFLINE with reason
 * QUIESCED; OFFLINE takes nothing (reason STOPPED when an operator stops it, WATCHDOG reserved as in
 * Launchpad). Pure functions; each returns the state to write and the event to append.
 */
import { RecurringJobRuleError, type RecurringJobEvent } from './recurring-jobs';

export const MACHINE_STATE_VALUES = { OFFLINE: 10, ONLINE: 20, QUIESCING: 30 } as const;
export type MachineState = keyof typeof MACHINE_STATE_VALUES;
export const MACHINE_STATES = Object.keys(MACHINE_STATE_VALUES) as MachineState[];

export const OFFLINE_REASON_VALUES = { STOPPED: 110, QUIESCED: 120, WATCHDOG: 210 } as const;
export type OfflineReason = keyof typeof OFFLINE_REASON_VALUES;
export const OFFLINE_REASONS = Object.keys(OFFLINE_REASON_VALUES) as OfflineReason[];

export interface MachineStatus {
  name: string;
  state: MachineState;
  offlineReason: OfflineReason | null;
  /** Last time the machine looked for work (Launchpad touches it on every call except when OFFLINE). */
  heartbeat: string | null;
}

export interface MachineChange {
  machine: MachineStatus;
  events: RecurringJobEvent[];
}

function machineEvent(type: 'ONLINE' | 'OFFLINE' | 'QUIESCE', machine: string, now: Date, person: string | null, message?: string, reason?: OfflineReason): RecurringJobEvent {
  const items: RecurringJobEvent['items'] = {};
  if (message) items.MESSAGE = message;
  if (reason) items.OFFLINE_REASON = reason;
  return { type, date: now.toISOString(), person, machine, items };
}

/** setOnline: from OFFLINE or QUIESCING; ONLINE event. */
export function setOnline(m: MachineStatus, now: Date, person: string | null = null, message?: string): MachineChange {
  if (m.state !== 'OFFLINE' && m.state !== 'QUIESCING') {
    throw new RecurringJobRuleError('MachineStateTransition', `machine ${m.name} is ${m.state}: only an OFFLINE or QUIESCING machine can go ONLINE`);
  }
  return { machine: { ...m, state: 'ONLINE', offlineReason: null }, events: [machineEvent('ONLINE', m.name, now, person, message)] };
}

/** setOffline: from ONLINE or QUIESCING; OFFLINE event with the reason. */
export function setOffline(m: MachineStatus, reason: OfflineReason, now: Date, person: string | null = null, message?: string): MachineChange {
  if (m.state !== 'ONLINE' && m.state !== 'QUIESCING') {
    throw new RecurringJobRuleError('MachineStateTransition', `machine ${m.name} is ${m.state}: only an ONLINE or QUIESCING machine can go OFFLINE`);
  }
  return { machine: { ...m, state: 'OFFLINE', offlineReason: reason }, events: [machineEvent('OFFLINE', m.name, now, person, message, reason)] };
}

/** setQuiescing: from ONLINE only, and someone must ask for it; QUIESCE event. */
export function setQuiescing(m: MachineStatus, person: string, now: Date, message?: string): MachineChange {
  if (m.state !== 'ONLINE') {
    throw new RecurringJobRuleError('MachineStateTransition', `machine ${m.name} is ${m.state}: only an ONLINE machine can start QUIESCING`);
  }
  return { machine: { ...m, state: 'QUIESCING' }, events: [machineEvent('QUIESCE', m.name, now, person, message)] };
}

/**
 * shouldLookForJob: OFFLINE → no (heartbeat untouched); otherwise the heartbeat is touched, then a
 * QUIESCING machine with no jobs goes OFFLINE/QUIESCED and takes nothing; ONLINE takes work while it
 * runs fewer than its limit.
 */
export function shouldLookForJob(m: MachineStatus, currentJobs: number, workerLimit: number, now: Date): MachineChange & { lookForJob: boolean } {
  if (m.state === 'OFFLINE') return { machine: m, events: [], lookForJob: false };
  const touched: MachineStatus = { ...m, heartbeat: now.toISOString() };
  if (touched.state === 'QUIESCING') {
    if (currentJobs === 0) return { ...setOffline(touched, 'QUIESCED', now), lookForJob: false };
    return { machine: touched, events: [], lookForJob: false };
  }
  return { machine: touched, events: [], lookForJob: currentJobs < workerLimit };
}

/** A machine that has never been seen: Launchpad's `new()` creates it ONLINE with an ONLINE event. */
export function newOnlineMachine(name: string, now: Date): MachineChange {
  return setOnline({ name, state: 'OFFLINE', offlineReason: null, heartbeat: null }, now);
}

/** Whether the scheduler may give a machine new work. */
export function acceptsNewWork(state: MachineState | undefined): boolean {
  return state === undefined || state === 'ONLINE';
}
