import { awsDeps, identity, artifacts, queues, workRequests, workers, templates, collections, channels, sequences, quotas, accountingQueue, machineEventLog } from '../shared/adapters/aws-adapters';
import { queuedRecurringRunHooks } from '../shared/adapters/aws-recurring-runs';
import { workerChannels } from '../shared/adapters/aws-worker-channels';
import { notifier } from '../shared/adapters/aws-notifier';
import { sockets } from '../shared/adapters/aws-sockets';
import { httpHandler } from '../shared/http/handler';
import { workRequestRoutes } from '../shared/http/routes/work-requests';

const functionDeps = awsDeps({ identity, artifacts, queues, workRequests, workers, workerChannels, templates, collections, channels, notifier, sequences, quotas, accountingQueue, machineEventLog, recurringRunHooks: queuedRecurringRunHooks, sockets });
// A created request is offered to an idle worker at once (shared/app/create-offer.ts): this function
// may send to worker queues and post to WebSockets (shared/manifest.ts), as the scheduler does.
const getDeps = () => Object.assign(functionDeps(), { offerOnCreate: true });

export const routes = workRequestRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
