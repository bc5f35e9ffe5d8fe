/**
 * How Debusine's WebSockets reach the WebSocket function, in the cloud (CloudFront in front of API
 * Gateway's WebSocket API, infra/constructs/debusine-websockets.ts) and on the local stack (the
 * local gateway, cli/dev/websockets.ts): one definition for the edge that routes them, the gateway
 * that stands in for it, and the handler that reads what they pass on (functions/websocket-api.ts).
 */

/** Where Debusine's clients open their WebSockets: `<api-url>/ws/1.0/…` (api-url is `<host>/api`). */
export const WEBSOCKET_PATH_PREFIX = '/api/ws/';

/**
 * The query parameter the requested path travels in to `$connect`: a WebSocket API answers on its
 * stage URL only, so the edge moves the path there.
 */
export const PATH_QUERY_PARAMETER = 'conveyor_path';
