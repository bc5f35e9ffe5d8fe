/**
 * What the work-request step of the expiry pass (shared/app/work-request-expiry.ts) needs from
 * storage. Candidates are whole workflow trees, found through their root in a work-request expiry
 * index keyed by check time (written when a root finishes; never a scan). Adapters:
 * dynamodb/work-request-expiry-store.ts, memory/work-request-expiry-store.ts.
 */
import type { Collection } from '../domain/collections';
import type { WorkRequest } from '../domain/work-requests';

export interface WorkRequestExpiryStore {
  /** Ids of tree roots whose check time is at or before `upTo`, oldest check first, at most `limit`. */
  dueRoots(upTo: string, limit: number): Promise<number[]>;
  /** Moves a root's next check to `at` (null: it leaves the index, nothing will change for it). */
  recheckRoot(rootId: number, at: string | null): Promise<void>;
  /**
   * Whether a collection item names the request as `workflow:<id>` creator or remover, in a
   * collection not in `ownCollections` (those that go with it: the internal collection of its
   * tree's root; every collection of its workspace when the workspace is going).
   */
  referencedFromOutside(workRequestId: number, ownCollections: ReadonlySet<number>): Promise<boolean>;
  /**
   * Deletes one finished request, conditional on its version: its row, the rows of its partition
   * (child links, child progress, reverse-dependency links, item-reference markers, its index
   * entry), the reverse-dependency links in its dependencies' partitions and its input pins.
   * False when the condition failed (it changed since it was read): nothing is deleted then.
   */
  deleteWorkRequest(wr: WorkRequest): Promise<boolean>;
  /** Deletes a collection with every item of it (active and removed) and its name claim. */
  deleteCollection(collection: Collection): Promise<void>;
}
