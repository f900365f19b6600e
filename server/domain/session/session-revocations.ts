import type { Database } from "../../infra/db/database.js";

/**
 * The journal of sessions ended while Redis was unreachable (table `session_revocations`, migration 12),
 * keyed like the records by the SHA-256 of the session id. A row lives until the session it ended could
 * no longer have been valid anyway.
 */
export interface SessionRevocations {
  add(keyHash: string, expiresAt: number): Promise<void>;
  /** Every row still in force: key hash → expiry, ms since epoch. Deletes the expired ones first. */
  active(): Promise<Map<string, number>>;
}

/** The journal on PostgreSQL; `onQuery` counts each statement. */
export function createSessionRevocations(db: Database, onQuery: () => void): SessionRevocations {
  const query = <T>(sql: string, values: unknown[]) => {
    onQuery();
    return db.query<T>(sql, values);
  };
  return {
    async add(keyHash, expiresAt) {
      await query(
        `INSERT INTO session_revocations (key_hash, expires_at) VALUES ($1, to_timestamp($2 / 1000.0))
         ON CONFLICT (key_hash) DO UPDATE SET revoked_at = now(), expires_at = excluded.expires_at`,
        [keyHash, expiresAt],
      );
    },

    async active() {
      await query("DELETE FROM session_revocations WHERE expires_at < now()", []);
      const { rows } = await query<{ key_hash: string; expires_at: Date }>(
        "SELECT key_hash, expires_at FROM session_revocations",
        [],
      );
      return new Map(rows.map((r) => [r.key_hash, r.expires_at.getTime()]));
    },
  };
}
