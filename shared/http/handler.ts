import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logger } from '../observability/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { authenticate } from '../app/auth';
import { canonicalRouteKey } from '../manifest';
import { NotFoundError } from '../domain/errors';
import type { Deps } from '../ports';
import { conditionalGet } from './etag';
import { problemResponse } from './problem';
import { baseUrlOf, decodeBody, normaliseHeaders, scopeOf, type HttpRequest, type RouteHandler } from './request';

type Ctx = Context & { request?: HttpRequest };

/**
 * The middy stack every HTTP function shares: header normalisation and body decoding,
 * authentication from the `Token` header, dispatch by API Gateway route key, and one
 * error handler that turns every failure into problem+json.
 */
export function httpHandler(getDeps: () => Deps, routes: Record<string, RouteHandler>) {
  const byCanonicalKey = new Map(Object.entries(routes).map(([key, route]) => [canonicalRouteKey(key), route]));
  const core = async (event: APIGatewayProxyEventV2, context: Ctx): Promise<APIGatewayProxyStructuredResultV2> => {
    const route = byCanonicalKey.get(canonicalRouteKey(event.routeKey));
    if (!route || !context.request) throw new NotFoundError('Not Found', `no route ${event.routeKey}`);
    return route(context.request);
  };
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Ctx>(core)
    // Every log entry of the invocation carries the Lambda request id.
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use({
      before: async (request) => {
        const event = request.event;
        const headers = normaliseHeaders(event.headers);
        const caller = await authenticate(getDeps(), headers['token']);
        (request.context as Ctx).request = {
          event,
          method: event.requestContext?.http?.method ?? 'GET',
          routeKey: event.routeKey,
          params: Object.fromEntries(Object.entries(event.pathParameters ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string>,
          query: Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string>,
          headers,
          rawBody: decodeBody(event),
          caller,
          scope: scopeOf(headers),
          baseUrl: baseUrlOf(event, headers),
        };
      },
      onError: async (request) => {
        request.response = problemResponse(request.error);
      },
    })
    .use(conditionalGet());
}
