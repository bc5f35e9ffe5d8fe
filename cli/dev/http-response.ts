/** What the local gateway writes back to an HTTP client (shared by the API routes and the static web UI). */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}
