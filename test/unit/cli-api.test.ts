import { ApiError, ConveyorApi, apiErrorFromResponse, encodeArtifactPath, formatProblem } from '../../cli/client/api';
import { partsToSend } from '../../cli/client/upload';
import type { MultipartUploadPlan } from '../../cli/client/wire';

describe('problem+json errors', () => {
  it('formats status, title, detail and field errors', () => {
    expect(
      formatProblem(400, 'Bad Request', {
        title: 'Invalid request',
        detail: 'the request has invalid fields',
        validation_errors: { category: ['must look like "namespace:name"'], 'files.a': ['size must be a number', 'missing sha256'] },
      }, ''),
    ).toBe(
      '400 Invalid request: the request has invalid fields\n  category: must look like "namespace:name"\n  files.a: size must be a number; missing sha256',
    );
    expect(formatProblem(404, 'Not Found', { title: 'Not found' }, '')).toBe('404 Not found');
    expect(formatProblem(502, 'Bad Gateway', undefined, '<html>upstream down</html>')).toBe('502 Bad Gateway: <html>upstream down</html>');
  });

  it('turns a problem+json response into an ApiError', async () => {
    const res = new Response(JSON.stringify({ type: 'about:blank', title: 'Conflict', status: 409, detail: 'artifact 3 is immutable' }), {
      status: 409,
      headers: { 'content-type': 'application/problem+json' },
    });
    const err = await apiErrorFromResponse(res);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(409);
    expect(err.message).toBe('409 Conflict: artifact 3 is immutable');
  });

  it('sends the token and scope headers, and surfaces errors from requests', async () => {
    const seen: { url: string; headers: Record<string, string> }[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      seen.push({ url: String(input), headers: init?.headers as Record<string, string> });
      return new Response(JSON.stringify({ title: 'Forbidden', detail: 'uploader role needed' }), {
        status: 403,
        headers: { 'content-type': 'application/problem+json' },
      });
    };
    const api = new ConveyorApi({ server: 'https://c.example/', token: 'k'.repeat(64), scope: 'debian' }, fakeFetch);
    await expect(api.getArtifact(7)).rejects.toThrow('403 Forbidden: uploader role needed');
    expect(seen[0]!.url).toBe('https://c.example/api/1.0/artifact/7/');
    expect(seen[0]!.headers).toMatchObject({ Token: 'k'.repeat(64), 'X-Debusine-Scope': 'debian' });
  });
});

describe('artifact paths in URLs', () => {
  it('encodes each segment and keeps the slashes', () => {
    expect(encodeArtifactPath('dir/a b+c#?.txt')).toBe('dir/a%20b%2Bc%23%3F.txt');
    expect(encodeArtifactPath('100%/x')).toBe('100%25/x');
  });
});

describe('multipart upload planner', () => {
  const plan = (uploaded: number[], partSize = 10, sizes = [10, 10, 10, 5]): MultipartUploadPlan => ({
    complete: false,
    method: 'multipart',
    upload_id: 'u1',
    part_size: partSize,
    parts: sizes.map((size, i) => ({
      part_number: i + 1,
      size,
      url: `https://s3.example/part${i + 1}`,
      uploaded: uploaded.includes(i + 1),
      etag: uploaded.includes(i + 1) ? `"e${i + 1}"` : null,
    })),
  });

  it('sends only the parts not yet uploaded, each with its byte range', () => {
    expect(partsToSend(plan([1, 3]), 35)).toEqual([
      { partNumber: 2, start: 10, end: 20, url: 'https://s3.example/part2' },
      { partNumber: 4, start: 30, end: 35, url: 'https://s3.example/part4' },
    ]);
    expect(partsToSend(plan([1, 2, 3, 4]), 35)).toEqual([]);
    expect(partsToSend(plan([]), 35).map((p) => [p.start, p.end])).toEqual([
      [0, 10],
      [10, 20],
      [20, 30],
      [30, 35],
    ]);
  });

  it('refuses a plan that does not tile the local file', () => {
    expect(() => partsToSend(plan([]), 36)).toThrow(/gives part 4 5 bytes, the local file needs 6/);
    expect(() => partsToSend(plan([], 10, [10, 10]), 35)).toThrow(/expected 1\.\.4/);
    expect(() => partsToSend({ ...plan([]), part_size: 0 }, 35)).toThrow(/Invalid multipart part size/);
  });
});
