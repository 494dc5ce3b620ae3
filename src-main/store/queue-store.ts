// The ledger's mutable part: queues of edit requests and their items (status, order, corrected requests) and the
// settings a queue runs with. Apart from the append-only history in ledger.ts (edits, factors, events, norms,
// health), which only ever grows; the one bridge is recordEdit, which marks the item it recorded done in its own
// transaction. Reached as `ledger.queues`, on the ledger's connection and inside its write transactions.
import type Database from 'better-sqlite3';
import type { EditMethod } from '../engine/edit/types';
import type { EditRequest } from '../engine/facts/types';
import { LedgerError } from './ledger-error';
import { json, rowMapper, type Row } from './rows';
import { InvalidRow, QUEUE_ITEM_STATUSES, QueueItem, QueueItemStatus, QueueRecord } from './types';

/** What the queue store borrows from its ledger: one connection, one write transaction, one clock. */
export interface QueueStoreHost {
  /** Run fn in one IMMEDIATE write transaction of the ledger (refused on a read-only ledger); `op` names it. */
  tx<T>(op: string, fn: () => T): T;
  /** the ledger's clock, as stored in updated_at / created_at */
  now(): string;
  /** throws a LedgerError when the ledger holds no model with this id */
  requireModel(id: number): void;
}

export class QueueStore {
  constructor(
    private readonly db: Database.Database,
    private readonly host: QueueStoreHost,
  ) {}

  private tx<T>(op: string, fn: () => T): T {
    return this.host.tx(op, fn);
  }

  private now(): string {
    return this.host.now();
  }

  private requireModel(id: number): void {
    this.host.requireModel(id);
  }

  /**
   * A queue of edit requests: the valid requests first (pending, in order), then the invalid rows (status
   * 'invalid', error = message) so the user can see and fix them.
   */
  createQueue(
    modelId: number,
    name: string,
    method: EditMethod,
    profile: unknown,
    requests: EditRequest[],
    invalid: InvalidRow[] = [],
  ): QueueRecord {
    return this.tx('createQueue', () => {
      this.requireModel(modelId);
      const now = this.now();
      const q = this.db
        .prepare('INSERT INTO queues (model_id, name, method, profile_json, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(modelId, name, method, JSON.stringify(profile ?? {}), now);
      const queueId = Number(q.lastInsertRowid);
      const ins = this.db.prepare(
        'INSERT INTO queue_items (queue_id, position, request_json, status, error, source_row, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      let pos = 0;
      for (const r of requests) ins.run(queueId, pos++, JSON.stringify(r), 'pending', null, null, now);
      for (const bad of invalid)
        ins.run(queueId, pos++, bad.request ? JSON.stringify(bad.request) : null, 'invalid', bad.message, bad.row, now);
      return this.getQueue(queueId)!;
    });
  }

  /**
   * Stores the settings a queue runs with (batch size, health schedule, guardrails, ...; see
   * QueueRunSettings in the API contract), replacing the previous run's. The ledger keeps them as given;
   * whoever reads them back validates them (a ledger can be edited by hand).
   */
  setQueueRunSettings(queueId: number, settings: Record<string, unknown>): QueueRecord {
    return this.tx('setQueueRunSettings', () => {
      const r = this.db.prepare('UPDATE queues SET run_json = ? WHERE id = ?').run(JSON.stringify(settings), queueId);
      if (r.changes === 0) throw new LedgerError('ledger', `no queue with id ${queueId}`);
      return this.getQueue(queueId)!;
    });
  }

  getQueue(queueId: number): QueueRecord | undefined {
    const r = this.db.prepare('SELECT * FROM queues WHERE id = ?').get(queueId) as Row | undefined;
    return r && mapQueue(r);
  }

  queuesForModel(modelId: number): QueueRecord[] {
    return (this.db.prepare('SELECT * FROM queues WHERE model_id = ? ORDER BY id').all(modelId) as Row[]).map(mapQueue);
  }

  queueItems(queueId: number): QueueItem[] {
    return (this.db.prepare('SELECT * FROM queue_items WHERE queue_id = ? ORDER BY position').all(queueId) as Row[]).map(mapItem);
  }

  getItem(itemId: number): QueueItem | undefined {
    const r = this.db.prepare('SELECT * FROM queue_items WHERE id = ?').get(itemId) as Row | undefined;
    return r && mapItem(r);
  }

  /** The first pending item by position. */
  nextPendingItem(queueId: number): QueueItem | undefined {
    const r = this.db
      .prepare(`SELECT * FROM queue_items WHERE queue_id = ? AND status = 'pending' ORDER BY position LIMIT 1`)
      .get(queueId) as Row | undefined;
    return r && mapItem(r);
  }

  /**
   * Set an item's status (running, failed, skipped, pending again, invalid). 'done' is set only by recordEdit, and a
   * done item cannot change (its edit is in the ledger).
   */
  markItem(itemId: number, status: QueueItemStatus, error?: string | null): QueueItem {
    if (!QUEUE_ITEM_STATUSES.includes(status)) throw new LedgerError('ledger', `unknown queue item status "${status}"`);
    if (status === 'done') throw new LedgerError('ledger', 'an item becomes done only by recording its edit (recordEdit with queueItemId)');
    return this.tx('markItem', () => {
      const item = this.getItem(itemId);
      if (!item) throw new LedgerError('ledger', `no queue item with id ${itemId}`);
      if (item.status === 'done') throw new LedgerError('ledger', `queue item ${itemId} is done (edit ${item.editId}); it cannot change`);
      if (status !== 'invalid' && item.request === null)
        throw new LedgerError('ledger', `queue item ${itemId} has no parsable request; fix it with updateItemRequest first`);
      this.db
        .prepare('UPDATE queue_items SET status = ?, error = ?, updated_at = ? WHERE id = ?')
        .run(status, error ?? null, this.now(), itemId);
      return this.getItem(itemId)!;
    });
  }

  /**
   * Reorder items: the listed items take, in the listed order, the positions they occupy now. Pass every item of
   * the queue for a full reorder, or a subset (e.g. the pending ones) to reorder just those among themselves.
   */
  reorderItems(queueId: number, itemIds: number[]): QueueItem[] {
    return this.tx('reorderItems', () => {
      if (new Set(itemIds).size !== itemIds.length) throw new LedgerError('ledger', 'reorderItems: an item is listed twice');
      const rows = this.db
        .prepare('SELECT id, position FROM queue_items WHERE queue_id = ?')
        .all(queueId) as { id: number; position: number }[];
      const posOf = new Map(rows.map((r) => [r.id, r.position]));
      for (const id of itemIds) if (!posOf.has(id)) throw new LedgerError('ledger', `reorderItems: item ${id} is not in queue ${queueId}`);
      const slots = itemIds.map((id) => posOf.get(id)!).sort((a, b) => a - b);
      const set = this.db.prepare('UPDATE queue_items SET position = ?, updated_at = ? WHERE id = ?');
      const now = this.now();
      // two passes so UNIQUE (queue_id, position) holds after every statement
      itemIds.forEach((id, i) => set.run(-1 - i, now, id));
      itemIds.forEach((id, i) => set.run(slots[i], now, id));
      return this.queueItems(queueId);
    });
  }

  /**
   * Replace the request of a pending item, or fix an invalid one (which becomes pending; validate it first).
   * Items that ran (running, done, failed, skipped) keep the request they ran with.
   */
  updateItemRequest(itemId: number, request: EditRequest): QueueItem {
    return this.tx('updateItemRequest', () => {
      const item = this.getItem(itemId);
      if (!item) throw new LedgerError('ledger', `no queue item with id ${itemId}`);
      if (item.status !== 'pending' && item.status !== 'invalid')
        throw new LedgerError('ledger', `queue item ${itemId} is ${item.status}; only pending (or invalid) items can be edited`);
      this.db
        .prepare(`UPDATE queue_items SET request_json = ?, status = 'pending', error = NULL, updated_at = ? WHERE id = ?`)
        .run(JSON.stringify(request), this.now(), itemId);
      return this.getItem(itemId)!;
    });
  }
}

// ------------------------------------------------------------------------------------------------ row mapping

const mapQueue = rowMapper<QueueRecord>({
  id: 'id', modelId: 'model_id', name: 'name', method: 'method', profile: json('profile_json'),
  // run_json arrived with a later schema: older ledgers read as null (no run started)
  runSettings: json('run_json'), createdAt: 'created_at',
});

const mapItem = rowMapper<QueueItem>({
  id: 'id', queueId: 'queue_id', position: 'position', request: json('request_json'), status: 'status', error: 'error',
  sourceRow: 'source_row', editId: 'edit_id', updatedAt: 'updated_at',
});
