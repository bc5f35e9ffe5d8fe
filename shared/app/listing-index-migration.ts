/**
 * Schema revision 0004: work requests stored before the listing had its own index (gsi4, projecting
 * only attributes that never change) carry their listing entry on gsi1, where every state change
 * rewrote it. The upgrade moves each such entry to gsi4 (conditional on the item's version); until
 * it is recorded, the listing also reads gsi1 (shared/adapters/dynamodb/work-request-listing.ts).
 */
import type { Deps } from '../ports';

export const listingIndexMigration = {
  rev: '0004_work_request_listing_index',
  description: "work requests' listing entries are on the listing's own index (gsi4), which state changes do not rewrite",
  upgrade(deps: Deps): Promise<number> {
    return deps.schema.moveWorkRequestListing('upgrade');
  },
  /** Code before this revision lists from gsi1 only. */
  downgrade(deps: Deps): Promise<number> {
    return deps.schema.moveWorkRequestListing('downgrade');
  },
};
