/** How a quota is stored on an item (the user item, or a workspace's quota item). */
import { emptyQuota, RESOURCES, type Quota, type Resource } from '../../domain/quotas';
import type { Item } from './support';

export const QUOTA_ATTR: Record<Resource, { limit: string; used: string }> = {
  cpu: { limit: 'quotaCpuLimit', used: 'quotaCpuUsed' },
  disk: { limit: 'quotaDiskLimit', used: 'quotaDiskUsed' },
};

/** Whether an item carries any quota attribute (users created before quotas carry none). */
export function hasQuota(item: Item): boolean {
  return RESOURCES.some((r) => item[QUOTA_ATTR[r].limit] !== undefined || item[QUOTA_ATTR[r].used] !== undefined);
}

export function quotaFromItem(item: Item | undefined): Quota {
  const quota = emptyQuota();
  if (!item) return quota;
  for (const r of RESOURCES) quota[r] = { limit: Number(item[QUOTA_ATTR[r].limit] ?? 0), used: Number(item[QUOTA_ATTR[r].used] ?? 0) };
  return quota;
}

