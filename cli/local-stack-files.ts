/**
 * Where the local stack (`conveyor dev`) keeps its state: written by the dev command, read by the
 * client commands and workers that find the running stack through it (cli/client/config.ts).
 */

/** The data directory, below where the command runs, unless `--data-dir` or CONVEYOR_DATA_DIR names another. */
export const DEFAULT_DATA_DIR = '.conveyor';
/** In the data directory: how to reach the running stack (URL, admin token, environment). */
export const LOCAL_JSON = 'local.json';
/** In the data directory: the local stack's notification e-mails, appended to this mbox file (no SES locally). */
export const MAILBOX_FILE = 'mailbox';
