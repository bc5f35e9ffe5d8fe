/** Wire-format (JSON API) fixtures for the CLI and worker tests. */
import type { WireWorkRequest } from '../../cli/client/wire';

/** A pending, unassigned `noop` work request as the API returns it; `overrides` replace fields. */
export function wireWorkRequest(id: number, overrides: Partial<WireWorkRequest> = {}): WireWorkRequest {
  return {
    id,
    url: `https://c.example/api/1.0/work-request/${id}/`,
    task_name: 'noop',
    task_type: 'Worker',
    task_data: { result: true },
    dynamic_task_data: null,
    status: 'pending',
    result: '',
    worker: null,
    worker_name: null,
    created_at: '2030-01-01T00:00:00Z',
    created_by: 'user:alice',
    aborted_by: null,
    started_at: null,
    completed_at: null,
    duration: null,
    priority_base: 0,
    priority_adjustment: 0,
    effective_priority: 0,
    parent: null,
    dependencies: [],
    workflow_data: {},
    event_reactions: {},
    output_data: null,
    retry_count: 0,
    supersedes: null,
    superseded_by: null,
    artifacts: [],
    scope: 'debusine',
    workspace: 'System',
    heartbeat_at: null,
    logtail: [],
    ...overrides,
  };
}
