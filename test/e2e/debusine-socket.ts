/** Debusine's WebSocket protocol from the client side, for e2e tests (as Debusine's worker and client speak it). */
import WebSocket from 'ws';

/** A socket with every message it received, and a way to wait for one. */
export class Socket {
  readonly messages: Record<string, unknown>[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<void>;
  constructor(url: string, token: string) {
    this.ws = new WebSocket(url, { headers: { Token: token } });
    this.ws.on('message', (data) => this.messages.push(JSON.parse(String(data)) as Record<string, unknown>));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', () => resolve()));
  }
  async waitFor(predicate: (m: Record<string, unknown>) => boolean, what: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await sleep(100);
    }
  }
  texts(): unknown[] {
    return this.messages.map((m) => m['text'] ?? m['reason_code']);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
