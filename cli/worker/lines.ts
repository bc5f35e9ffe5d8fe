/** Small helpers for the log lines a task prints: splitting a byte stream into lines, and the tail kept for heartbeats. */

/** Longest line kept in a heartbeat's logtail: heartbeats travel through SQS, whose messages are small. */
export const MAX_LOGTAIL_LINE = 2000;

/** Cuts a stream of chunks into lines (without the newline); `flush` hands over a last unterminated line. */
export class LineSplitter {
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string | Buffer): void {
    this.pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let newline = this.pending.indexOf('\n');
    while (newline >= 0) {
      this.onLine(this.pending.slice(0, newline).replace(/\r$/, ''));
      this.pending = this.pending.slice(newline + 1);
      newline = this.pending.indexOf('\n');
    }
  }

  flush(): void {
    if (this.pending !== '') this.onLine(this.pending.replace(/\r$/, ''));
    this.pending = '';
  }
}

/** The last `size` lines of a task's output (Launchpad's worker monitor sends 5 with each heartbeat). */
export class LogTail {
  private readonly buffer: string[] = [];

  constructor(private readonly size = 5) {}

  push(line: string): void {
    this.buffer.push(line.length > MAX_LOGTAIL_LINE ? `${line.slice(0, MAX_LOGTAIL_LINE - 1)}…` : line);
    if (this.buffer.length > this.size) this.buffer.splice(0, this.buffer.length - this.size);
  }

  lines(): string[] {
    return [...this.buffer];
  }
}
