/**
 * Launchpad's getJobForMachine (reference/launchpad_reana.md §A.5) over the jobs and machines in hand:
 * garden (reclaim every stale run), create an unknown machine ONLINE, ask the machine whether it looks
 * for work, then start the most urgent due run. Conveyor's release tick (shared/app/recurring-jobs.ts)
 * applies the same order to runs read from the date_due index; this is the whole rule in one place.
 */
import { compareDueRuns, isOverdue, isReclaimable, reclaimJob, startJob, type RecurringJob, type RecurringJobEvent, type RecurringJobResult } from './recurring-jobs';
import { newOnlineMachine, shouldLookForJob, type MachineStatus } from './machines';

export interface DispatchWorld {
  jobs: RecurringJob[];
  machines: MachineStatus[];
}

export interface DispatchOutcome {
  world: DispatchWorld;
  /** The job whose run was started, or null (Launchpad's XML-RPC answers 0). */
  started: RecurringJob | null;
  results: RecurringJobResult[];
  events: RecurringJobEvent[];
}

export function currentJobs(jobs: RecurringJob[], machine: string): number {
  return jobs.filter((j) => j.run?.state === 'RUNNING' && j.run.machine === machine).length;
}

export function getJobForMachine(world: DispatchWorld, hostname: string, workerLimit: number, now: Date): DispatchOutcome {
  const results: RecurringJobResult[] = [];
  const events: RecurringJobEvent[] = [];
  let jobs = world.jobs.map((job) => {
    if (!isReclaimable(job.run, now)) return job;
    const change = reclaimJob(job, now);
    if (change.result) results.push(change.result);
    events.push(...change.events);
    return change.job;
  });
  let machines = world.machines;
  let machine = machines.find((m) => m.name === hostname);
  if (!machine) {
    const created = newOnlineMachine(hostname, now);
    machine = { ...created.machine, heartbeat: now.toISOString() };
    machines = [...machines, machine];
    events.push(...created.events);
  } else {
    const asked = shouldLookForJob(machine, currentJobs(jobs, hostname), workerLimit, now);
    const updated = asked.machine;
    machines = machines.map((m) => (m.name === hostname ? updated : m));
    events.push(...asked.events);
    if (!asked.lookForJob) return { world: { jobs, machines }, started: null, results, events };
    machine = updated;
  }
  const due = jobs.filter((j) => j.run?.state === 'PENDING' && isOverdue(j.run, now)).sort((a, b) => compareDueRuns(a.run!, b.run!));
  const first = due[0];
  if (!first) return { world: { jobs, machines }, started: null, results, events };
  const change = startJob(first, machine, now);
  events.push(...change.events);
  jobs = jobs.map((j) => (j.id === first.id ? change.job : j));
  return { world: { jobs, machines }, started: change.job, results, events };
}
