/** The heartbeat applier: writes the heartbeats workers sent through the heartbeat queue. */
import type { Deps, HeartbeatMessage } from '../ports';

/** Applies accepted heartbeats; each is conditional, so replays and stale ones change nothing. */
export async function applyHeartbeats(deps: Deps, messages: HeartbeatMessage[]): Promise<{ applied: number; ignored: number }> {
  // Within a batch only the newest heartbeat per request matters.
  const newest = new Map<number, HeartbeatMessage>();
  for (const m of messages) {
    const seen = newest.get(m.workRequestId);
    if (!seen || seen.at < m.at) newest.set(m.workRequestId, m);
  }
  let applied = 0;
  for (const m of newest.values()) if (await deps.workRequests.applyHeartbeat(m)) applied++;
  return { applied, ignored: messages.length - applied };
}
