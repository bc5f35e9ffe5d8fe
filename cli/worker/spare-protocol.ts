/** The one line a worker writes to a spare task process's stdin (cli/worker/spare-tasks.ts → spare-hand-over.ts). */
export interface HandOver {
  request_file: string;
  outcome_file: string;
  /** The request's scratch directory: the process's cwd, HOME and TMPDIR from now on. */
  work_dir: string;
  work_request_id: number;
}

/** The task runner's argument that makes it a spare, waiting for its hand-over. */
export const SPARE_ARG = '--spare';
