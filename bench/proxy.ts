/**
 * A counting TCP proxy (node:net) put in front of the API port: every byte a client sends to the
 * API, and every byte the API answers, passes through it and is counted. It is how the benchmark
 * shows that file bytes go to S3, not through the API.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface CountingProxy {
  /** `http://127.0.0.1:<port>`: use instead of the API URL. */
  url: string;
  /** Bytes from clients to the API, and from the API to clients, since start or the last `reset`. */
  counts(): { toApi: number; fromApi: number; connections: number };
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(target: URL): Promise<CountingProxy> {
  let toApi = 0;
  let fromApi = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    connections += 1;
    const upstream = createConnection({ host: target.hostname, port: Number(target.port), noDelay: true });
    client.setNoDelay(true); // no Nagle delay on the small writes of HTTP requests
    track(client);
    track(upstream);
    client.on('data', (chunk: Buffer) => (toApi += chunk.length));
    upstream.on('data', (chunk: Buffer) => (fromApi += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ toApi, fromApi, connections }),
    reset() {
      toApi = 0;
      fromApi = 0;
      connections = 0;
    },
    close() {
      return new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
