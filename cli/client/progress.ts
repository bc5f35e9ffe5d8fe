/**
 * Progress of a transfer across all its bytes. A bar when stderr is a terminal; a line
 * per finished file otherwise (logs and CI output stay readable).
 */
import { SingleBar, Presets } from 'cli-progress';
import { formatBytes } from './format';

export interface ProgressReporter {
  start(totalBytes: number, label: string): void;
  /** Bytes moved (negative when a retry sends a file again). */
  advance(bytes: number): void;
  fileDone(path: string, size: number, how: string): void;
  stop(): void;
}

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export function createProgressReporter(stderr: ProgressStream): ProgressReporter {
  return stderr.isTTY ? new BarProgress(stderr) : new LineProgress(stderr);
}

class BarProgress implements ProgressReporter {
  private bar: SingleBar | undefined;
  private startedAt = 0;
  private done = 0;
  private total = 0;

  constructor(private readonly stderr: ProgressStream) {}

  start(totalBytes: number, label: string): void {
    this.bar = new SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {done} / {total_human} | {speed}`,
        stream: this.stderr as NodeJS.WritableStream,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    this.startedAt = Date.now();
    this.done = 0;
    this.total = totalBytes;
    this.bar.start(totalBytes, 0, this.payload());
  }

  private payload(): Record<string, string> {
    const seconds = (Date.now() - this.startedAt) / 1000;
    return {
      done: formatBytes(this.done),
      total_human: formatBytes(this.total),
      speed: seconds > 0 ? `${formatBytes(this.done / seconds)}/s` : '',
    };
  }

  advance(bytes: number): void {
    this.done = Math.max(0, this.done + bytes);
    this.bar?.update(this.done, this.payload());
  }

  fileDone(): void {}

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

class LineProgress implements ProgressReporter {
  constructor(private readonly stderr: ProgressStream) {}
  start(): void {}
  advance(): void {}
  fileDone(path: string, size: number, how: string): void {
    this.stderr.write(`${how} ${path} (${formatBytes(size)})\n`);
  }
  stop(): void {}
}

/** For `--json` runs and tests: nothing on stderr. */
export const silentProgress: ProgressReporter = { start() {}, advance() {}, fileDone() {}, stop() {} };
