import type { Database } from "../../infra/db/database.js";
import { HttpError } from "../../lib/errors.js";

/** The group whose members open the admin console and API. */
export const ADMIN_GROUP = "admin";

/** Lower case letters, digits, `.`, `_`, `-`; it appears in headers and in FORWARD_AUTH_RULES. */
export const GROUP_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

type Tx = Pick<Database, "query">;

// Any constant works; every change that could leave no enabled admin takes it first.
const ADMIN_LOCK_ID = 7_401_311;

export interface GroupRepository {
  /** The user's groups, sorted. */
  groupsOf(userId: string): Promise<string[]>;
  /** True when the user was not in the group before. */
  add(userId: string, name: string): Promise<boolean>;
  /** True when the user was in the group; `last_admin` (409) when it would leave no enabled admin. */
  remove(userId: string, name: string): Promise<boolean>;
  /**
   * Runs `change` in one transaction after making sure `userId` is not the last enabled admin (409
   * `last_admin` if so). Two such changes never run at once, so two admins cannot remove each other.
   */
  unlessLastAdmin<T>(userId: string, change: (tx: Tx) => Promise<T>): Promise<T>;
  /** Adds every existing account among `emails` to the group; returns the addresses that have none. */
  grantByEmail(emails: string[], name: string): Promise<{ granted: string[]; missing: string[] }>;
}

/** Group membership in SQL (table `user_groups`). */
export function createGroupRepository(db: Database): GroupRepository {
  const unlessLastAdmin: GroupRepository["unlessLastAdmin"] = (userId, change) =>
    db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [ADMIN_LOCK_ID]);
      // Read after the lock: each statement sees what the previous holder committed.
      const { rows } = await tx.query<{ user_id: string }>(
        `SELECT g.user_id FROM user_groups g JOIN users u ON u.id = g.user_id
         WHERE g.name = $1 AND u.disabled_at IS NULL`,
        [ADMIN_GROUP],
      );
      const admins = rows.map((r) => r.user_id);
      if (admins.includes(userId) && admins.length === 1) throw new HttpError("last_admin");
      return change(tx);
    });

  const add: GroupRepository["add"] = async (userId, name) => {
    const { rows } = await db.query(
      "INSERT INTO user_groups (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING name",
      [userId, name],
    );
    return rows.length > 0;
  };

  return {
    async groupsOf(userId) {
      const { rows } = await db.query<{ name: string }>(
        "SELECT name FROM user_groups WHERE user_id = $1 ORDER BY name",
        [userId],
      );
      return rows.map((r) => r.name);
    },
    add,
    async remove(userId, name) {
      const remove = async (tx: Tx) =>
        (
          await tx.query("DELETE FROM user_groups WHERE user_id = $1 AND name = $2 RETURNING name", [
            userId,
            name,
          ])
        ).rows.length > 0;
      return name === ADMIN_GROUP ? unlessLastAdmin(userId, remove) : remove(db);
    },
    unlessLastAdmin,
    async grantByEmail(emails, name) {
      if (emails.length === 0) return { granted: [], missing: [] };
      const { rows } = await db.query<{ id: string; email: string }>(
        "SELECT id, email FROM users WHERE lower(email) = ANY($1::text[])",
        [emails.map((e) => e.toLowerCase())],
      );
      for (const row of rows) await add(row.id, name);
      const found = new Set(rows.map((r) => r.email.toLowerCase()));
      return {
        granted: rows.map((r) => r.email),
        missing: emails.filter((e) => !found.has(e.toLowerCase())),
      };
    },
  };
}
