import type { Database } from "../../infra/db/database.js";
import { HttpError } from "../../lib/errors.js";

/** One user as the admin list and page show them. */
export interface AdminUserSummary {
  id: string;
  email: string;
  createdAt: string; // ISO 8601
  disabled: boolean;
  emailVerified: boolean;
  groups: string[];
}

/** `mfa`: users with a second factor (TOTP turned on, or a passkey). */
export type UserFilter = "disabled" | "unverified" | "mfa";

export interface UserSearch {
  /** Part of the address, case-insensitive. */
  q?: string;
  filter?: UserFilter;
  /** From the previous page's `nextCursor`. */
  cursor?: string;
  limit: number;
}

export interface UserDirectory {
  /** Users by address, `limit` at a time; `nextCursor` is absent on the last page. */
  search(query: UserSearch): Promise<{ users: AdminUserSummary[]; nextCursor?: string }>;
  find(id: string): Promise<AdminUserSummary | undefined>;
  /** How many accounts exist. */
  count(): Promise<number>;
}

interface Row {
  id: string;
  email: string;
  created_at: Date | string;
  disabled_at: Date | string | null;
  email_verified_at: Date | string | null;
  groups: string[] | null;
}

const SELECT = `SELECT u.id, u.email, u.created_at, u.disabled_at, u.email_verified_at,
  (SELECT array_agg(g.name ORDER BY g.name) FROM user_groups g WHERE g.user_id = u.id) AS groups
  FROM users u`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const toSummary = (row: Row): AdminUserSummary => ({
  id: row.id,
  email: row.email,
  createdAt: new Date(row.created_at).toISOString(),
  disabled: row.disabled_at !== null,
  emailVerified: row.email_verified_at !== null,
  groups: row.groups ?? [],
});

// The cursor is the last address shown (unique case-insensitively), opaque to the client.
const encodeCursor = (email: string) => Buffer.from(email.toLowerCase(), "utf8").toString("base64url");
function decodeCursor(cursor: string): string {
  const value = Buffer.from(cursor, "base64url").toString("utf8");
  if (!cursor || value.length === 0 || encodeCursor(value) !== cursor) {
    throw new HttpError("invalid_request", {
      message: "cursor is not one this server gave",
      details: { field: "cursor" },
    });
  }
  return value;
}

/** Read-only queries over users for the admin API and console (keyset pagination by address). */
export function createUserDirectory(db: Database): UserDirectory {
  return {
    async search({ q, filter, cursor, limit }) {
      const where: string[] = [];
      const params: unknown[] = [];
      const param = (value: unknown) => {
        params.push(value);
        return `$${params.length}`;
      };
      // position() rather than LIKE: a % or _ typed in the search box means itself.
      if (q) where.push(`position(${param(q.toLowerCase())} in lower(u.email)) > 0`);
      if (filter === "disabled") where.push("u.disabled_at IS NOT NULL");
      if (filter === "unverified") where.push("u.email_verified_at IS NULL");
      if (filter === "mfa") {
        where.push(`(EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
          OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = u.id))`);
      }
      if (cursor !== undefined) where.push(`lower(u.email) > ${param(decodeCursor(cursor))}`);
      const { rows } = await db.query<Row>(
        `${SELECT} ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY lower(u.email) LIMIT ${param(limit + 1)}`,
        params,
      );
      const users = rows.slice(0, limit).map(toSummary);
      const last = users.at(-1);
      return rows.length > limit && last ? { users, nextCursor: encodeCursor(last.email) } : { users };
    },
    async find(id) {
      if (!UUID.test(id)) return undefined;
      const { rows } = await db.query<Row>(`${SELECT} WHERE u.id = $1`, [id]);
      return rows[0] ? toSummary(rows[0]) : undefined;
    },
    async count() {
      const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM users");
      return Number(rows[0]?.n ?? 0);
    },
  };
}
