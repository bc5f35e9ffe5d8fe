import type { IncomingMessage } from 'node:http';

/**
 * Reads a request body, keeping at most `limit` bytes. A bigger body answers 'too-large' once it has
 * ended: it is drained, so that a client still sending gets to read the 413. Past `drainLimit`
 * (declared or received) draining is not worth it: the request is destroyed and answered at once.
 */
export function readBodyUpTo(req: IncomingMessage, limit: number, drainLimit = Number.POSITIVE_INFINITY): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > drainLimit) {
    req.destroy();
    return Promise.resolve('too-large');
  }
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limit) chunks.push(chunk);
      else if (received > drainLimit) {
        req.destroy();
        resolveBody('too-large');
      }
    });
    req.on('end', () => resolveBody(received > limit ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
