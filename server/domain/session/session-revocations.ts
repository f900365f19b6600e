import type { Database } from "../../infra/db/database.js";

/** A user signed out everywhere: their sessions that began before `before` end, but `keepKeyHash`'s. */
export interface UserRevocation {
  before: number;
  keepKeyHash: string;
  expiresAt: number;
}

/** The rows in force; times in ms since epoch. */
export interface ActiveRevocations {
  /** Session key hash → when the row expires. */
  sessions: Map<string, number>;
  /** User id → the rule. */
  users: Map<string, UserRevocation>;
}

/**
 * The journal of sessions ended while Redis was unreachable (tables `session_revocations` and
 * `user_session_revocations`, migrations 12 and 13), keyed like the records by the SHA-256 of the session id. A
 * row lives until the sessions it ended could no longer have been valid anyway.
 */
export interface SessionRevocations {
  add(keyHash: string, expiresAt: number): Promise<void>;
  /** Every session of the user that began until `before` ends, but `keepKeyHash`'s (sign out everywhere). */
  addForUser(userId: string, rule: UserRevocation): Promise<void>;
  /** Every row still in force. Deletes the expired ones first. */
  active(): Promise<ActiveRevocations>;
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

    async addForUser(userId, rule) {
      // The application's clock, like the sessions' login times it is compared with.
      await query(
        `INSERT INTO user_session_revocations (user_id, keep_key_hash, revoked_at, expires_at)
         VALUES ($1, $2, to_timestamp($3 / 1000.0), to_timestamp($4 / 1000.0))
         ON CONFLICT (user_id) DO UPDATE SET keep_key_hash = excluded.keep_key_hash,
           revoked_at = excluded.revoked_at, expires_at = excluded.expires_at`,
        [userId, rule.keepKeyHash, rule.before, rule.expiresAt],
      );
    },

    async active() {
      await query("DELETE FROM session_revocations WHERE expires_at < now()", []);
      await query("DELETE FROM user_session_revocations WHERE expires_at < now()", []);
      const sessions = await query<{ key_hash: string; expires_at: Date }>(
        "SELECT key_hash, expires_at FROM session_revocations",
        [],
      );
      const users = await query<{
        user_id: string;
        keep_key_hash: string;
        revoked_at: Date;
        expires_at: Date;
      }>("SELECT user_id, keep_key_hash, revoked_at, expires_at FROM user_session_revocations", []);
      return {
        sessions: new Map(sessions.rows.map((r) => [r.key_hash, r.expires_at.getTime()])),
        users: new Map(
          users.rows.map((r) => [
            r.user_id,
            {
              before: r.revoked_at.getTime(),
              keepKeyHash: r.keep_key_hash,
              expiresAt: r.expires_at.getTime(),
            },
          ]),
        ),
      };
    },
  };
}
