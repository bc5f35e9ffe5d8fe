/**
 * Debusine 0.12.1's client uploads a file in ranges of 50 MiB (`PUT <api-url>/1.0/artifact/<id>/files/<path>/`
 * with `Content-Range: bytes START-END/SIZE`); API Gateway refuses bodies over 10 MB and Lambda's event
 * stops at 6 MB, and no answer makes the client send smaller ranges. So those ranges never reach the API:
 * on the single CloudFront host a viewer-request function sends each range straight into the bucket
 * (a staging key named after the artifact, the file and the range), and a viewer-response function
 * answers what the client expects (200 with `Range: bytes=0-<next>`, 201 for the last range). S3's
 * notification of each stored range reaches `debusine-range-recorder`, which checks the token and
 * assembles the file (shared/app/debusine-ranges.ts). The probe (`bytes *\/SIZE`, no body) and every
 * other request go to the API as before.
 *
 * The two sources below are CloudFront Functions (JavaScript runtime 2.0). The local stack runs the same
 * sources (cli/dev/debusine-range-edge.ts), so the local gateway behaves like the cloud's host.
 */

/** Staging prefix of the ranges (under `tmp/`: the bucket expires abandoned ones after a day). */
export const DEBUSINE_RANGE_PREFIX = 'tmp/debusine-ranges/';
/** The id of the bucket origin in the distribution, selected by the viewer-request function. */
export const DEBUSINE_RANGE_ORIGIN_ID = 'debusine-ranges-bucket';
/** The largest range accepted: the 0.12.1 client's chunk size (`FileUploader._MAX_CHUNK_SIZE_BYTES`). */
export const DEBUSINE_MAX_RANGE_BYTES = 50 * 1024 * 1024;
/**
 * Files up to this size keep going through the API (their one range fits Lambda's 6 MB event, base64
 * included) and complete before the client's next step: Debusine's client links artifacts and asks for
 * archives right after uploading. Bigger files send every range to the bucket.
 */
export const DEBUSINE_RANGE_MIN_FILE_BYTES = 4 * 1024 * 1024;
/** The CloudFront path pattern of the ranged-upload URLs. */
export const DEBUSINE_RANGE_PATH_PATTERN = '/api/1.0/artifact/*/files/*';
/** User metadata the viewer-request function sets on each range (S3: `x-amz-meta-<name>`). */
export const RANGE_TOKEN_METADATA = 'token-sha256';
export const RANGE_PATH_METADATA = 'path';

/** The staging key of one range: `<prefix><artifact id>/<sha256 of the path>/<start>-<end>-<size>`. */
export function debusineRangeKey(artifactId: number, pathSha256: string, start: number, end: number, size: number): string {
  return `${DEBUSINE_RANGE_PREFIX}${artifactId}/${pathSha256}/${start}-${end}-${size}`;
}

export function parseDebusineRangeKey(key: string): { artifactId: number; pathSha256: string; start: number; end: number; size: number } | undefined {
  const m = /^tmp\/debusine-ranges\/(\d+)\/([0-9a-f]{64})\/(\d+)-(\d+)-(\d+)$/.exec(key);
  if (!m) return undefined;
  return { artifactId: Number(m[1]), pathSha256: m[2]!, start: Number(m[3]), end: Number(m[4]), size: Number(m[5]) };
}

const problem = (status: number, title: string, detail: string) =>
  `{ statusCode: ${status}, statusDescription: '${title}', headers: { 'content-type': { value: 'application/problem+json' } }, ` +
  `body: { encoding: 'text', data: JSON.stringify({ type: 'about:blank', title: '${title}', status: ${status}, detail: ${detail} }) } }`;

/** Viewer request: a range (with a token) goes to the bucket under its staging key; anything else to the API. */
export const RANGE_VIEWER_REQUEST_SOURCE = `import cf from 'cloudfront';
import crypto from 'crypto';

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

function handler(event) {
  var request = event.request;
  var contentRange = request.headers['content-range'];
  if (request.method !== 'PUT' || !contentRange) return request;
  var range = /^bytes (\\d+)-(\\d+)\\/(\\d+)$/.exec(contentRange.value.trim());
  var target = /^\\/api\\/1\\.0\\/artifact\\/(\\d+)\\/files\\/(.+?)\\/?$/.exec(request.uri);
  if (!range || !target) return request;
  var start = Number(range[1]), end = Number(range[2]), size = Number(range[3]);
  if (size <= ${DEBUSINE_RANGE_MIN_FILE_BYTES}) return request;
  var token = request.headers['token'];
  if (!token || !token.value) return ${problem(401, 'Unauthorized', "'uploading needs a Token header'")};
  if (end < start || end >= size || end - start + 1 > ${DEBUSINE_MAX_RANGE_BYTES}) {
    return ${problem(400, 'Invalid Content-Range', "'Content-Range: END must be within the file and at most ' + " + DEBUSINE_MAX_RANGE_BYTES + " + ' bytes after START'")};
  }
  var path;
  try { path = decodeURIComponent(target[2]); } catch (e) { return ${problem(400, 'Invalid path', "'the file path is not valid percent-encoding'")}; }
  request.uri = '/${DEBUSINE_RANGE_PREFIX}' + target[1] + '/' + sha256(path) + '/' + start + '-' + end + '-' + size;
  request.querystring = {};
  // The bucket keeps only the token's hash; the recorder authenticates with it.
  request.headers['x-amz-meta-${RANGE_TOKEN_METADATA}'] = { value: sha256(token.value.trim()) };
  request.headers['x-amz-meta-${RANGE_PATH_METADATA}'] = { value: target[2] };
  delete request.headers['token'];
  delete request.headers['content-range'];
  request.headers['x-conveyor-range'] = { value: contentRange.value.trim() };
  cf.selectRequestOriginById('${DEBUSINE_RANGE_ORIGIN_ID}');
  return request;
}
`;

/** Viewer response: S3's 200 for a stored range becomes what Debusine's client expects. */
export const RANGE_VIEWER_RESPONSE_SOURCE = `function handler(event) {
  var response = event.response;
  var headers = event.request.headers;
  // The request as the viewer-request function left it, or as the viewer sent it (then only S3's answers count).
  var marker = headers['x-conveyor-range'] || (response.headers['x-amz-request-id'] ? headers['content-range'] : undefined);
  if (!marker || response.statusCode !== 200) return response;
  var range = /^bytes (\\d+)-(\\d+)\\/(\\d+)$/.exec(marker.value);
  if (!range) return response;
  var next = Number(range[2]) + 1;
  if (next >= Number(range[3])) {
    response.statusCode = 201;
    response.statusDescription = 'Created';
  } else {
    // Debusine's convention: the end of the range is the next offset to send.
    response.headers['range'] = { value: 'bytes=0-' + next };
  }
  return response;
}
`;
