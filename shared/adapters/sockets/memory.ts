import type { SocketChannels, SocketConnection, SocketConnectionRepository, SocketPusher } from '../../ports';

export class MemorySocketConnections implements SocketConnectionRepository {
  readonly items = new Map<string, SocketConnection>();
  async put(c: SocketConnection) {
    this.items.set(c.connectionId, structuredClone(c));
  }
  async get(id: string) {
    return this.items.get(id);
  }
  async delete(id: string) {
    const c = this.items.get(id);
    this.items.delete(id);
    return c;
  }
  async forWorker(worker: string) {
    return [...this.items.values()].filter((c) => c.kind === 'worker' && c.worker === worker && !c.rejection);
  }
  async workers() {
    return [...this.items.values()].filter((c) => c.kind === 'worker' && !c.rejection);
  }
  async listeners() {
    return [...this.items.values()].filter((c) => c.kind === 'on-completed' && !c.rejection);
  }
}

/** Records what was sent; `open` lists the sockets that are still open. */
export class MemorySocketPusher implements SocketPusher {
  readonly sent: { connectionId: string; message: Record<string, unknown> }[] = [];
  readonly open = new Set<string>();
  readonly closed: string[] = [];
  async send(connectionId: string, message: Record<string, unknown>) {
    if (!this.open.has(connectionId)) return false;
    this.sent.push({ connectionId, message });
    return true;
  }
  async close(connectionId: string) {
    this.open.delete(connectionId);
    this.closed.push(connectionId);
  }
  async isOpen(connectionId: string) {
    return this.open.has(connectionId);
  }
  /** The `text` of the messages sent to one connection, in order. */
  texts(connectionId: string): string[] {
    return this.sent.filter((s) => s.connectionId === connectionId).map((s) => String(s.message['text'] ?? s.message['reason_code'] ?? s.message['type']));
  }
}

export function createMemorySockets(): SocketChannels & { connections: MemorySocketConnections; pusher: MemorySocketPusher } {
  return { connections: new MemorySocketConnections(), pusher: new MemorySocketPusher() };
}
