/** The worker logs to stderr, one timestamped line per event. */
export type WorkerLog = (message: string) => void;

export function timestampedLog(stream: { write(chunk: string): unknown } = process.stderr, now: () => Date = () => new Date()): WorkerLog {
  return (message) => {
    const stamp = now().toISOString();
    for (const line of message.split('\n')) stream.write(`${stamp} ${line}\n`);
  };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
