import { awsDeps, identity, queues, workRequests, workers, templates, collections, channels, sequences, accounts, quotas, schema, recurringJobs, machineEventLog } from '../shared/adapters/aws-adapters';
import { recurringRunsInProcess } from '../shared/app/recurring-runs';
import { notifier } from '../shared/adapters/aws-notifier';
import { httpHandler } from '../shared/http/handler';
import { recurringJobRoutes } from '../shared/http/routes/recurring-jobs';

const getDeps = awsDeps({ identity, queues, workRequests, workers, templates, collections, channels, notifier, sequences, accounts, quotas, schema, recurringJobs, machineEventLog, recurringRunHooks: recurringRunsInProcess });

export const routes = recurringJobRoutes(getDeps);
export const handler = httpHandler(getDeps, routes);
