import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { WS_MANAGEMENT_ENDPOINT_ENV_VAR } from '../../manifest';
import type { SocketPusher } from '../../ports';

/**
 * API Gateway's management API (PostToConnection, GetConnection, DeleteConnection). The local
 * gateway answers the same API on its own port, so the local stack uses this adapter too. The
 * endpoint is read when first used: the local gateway learns its port after handlers load.
 */
export class ManagementApiPusher implements SocketPusher {
  private client?: ApiGatewayManagementApiClient;

  constructor(
    private readonly endpoint: () => string | undefined = () => process.env[WS_MANAGEMENT_ENDPOINT_ENV_VAR],
    private readonly region: string = process.env['AWS_REGION'] ?? 'us-east-1',
  ) {}

  private api(): ApiGatewayManagementApiClient {
    if (this.client) return this.client;
    const endpoint = this.endpoint();
    if (!endpoint) throw new Error(`${WS_MANAGEMENT_ENDPOINT_ENV_VAR} is not set: this function cannot reach WebSockets`);
    return (this.client = new ApiGatewayManagementApiClient({ endpoint, region: this.region }));
  }

  async send(connectionId: string, message: Record<string, unknown>): Promise<boolean> {
    try {
      await this.api().send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(JSON.stringify(message)) }));
      return true;
    } catch (err) {
      if (isGone(err)) return false;
      throw err;
    }
  }

  async close(connectionId: string): Promise<void> {
    try {
      await this.api().send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }

  async isOpen(connectionId: string): Promise<boolean> {
    try {
      await this.api().send(new GetConnectionCommand({ ConnectionId: connectionId }));
      return true;
    } catch (err) {
      if (isGone(err)) return false;
      throw err;
    }
  }
}

function isGone(err: unknown): boolean {
  return err instanceof GoneException || (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 410;
}
