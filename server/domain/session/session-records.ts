import { createHash } from "node:crypto";
import type { Database } from "../../infra/db/database.js";

/** What a session is rebuilt from when Redis has lost it; times in ms since epoch. */
export interface SessionRecord {
  userId: string;
  amr: string[];
  authAt: number;
  ip: string;
  userAgent: string;
  epoch: number;
  /** `loginAt`: the absolute timeout counts from it. */
  createdAt: number;
  absoluteExpiresAt: number;
  idleExpiresAt: number;
  /** The team's own session data, or null when it is larger than SESSION_DURABLE_MAX_BYTES. */
  data: Record<string, unknown> | null;
  dataInRedisOnly: boolean;
  /** `app` for a bearer session (migration 9), null for a browser's. */
  client: "app" | null;
  /** The sign-in provider that opened the session (migration 14), null for any other way in. */
  provider: string | null;
}

/** A record with its user's current state, for the checks a restore makes. */
export interface FoundSessionRecord extends SessionRecord {
  userEpoch: number;
  userDisabled: boolean;
}

/** The durable records table (migration 7), keyed by the SHA-256 of the session id. */
export interface SessionRecords {
  /** Creates the record of a new session (a login); replaces one with the same key. */
  insert(keyHash: string, record: SessionRecord): Promise<void>;
  /** Creates the record of a session that had none (one from before the upgrade); keeps an existing one. */
  insertIfAbsent(keyHash: string, record: SessionRecord): Promise<void>;
  /** Rewrites an existing record; never creates one (a revoked session stays revoked). */
  update(keyHash: string, record: SessionRecord): Promise<void>;
  touch(keyHash: string, idleExpiresAt: number): Promise<void>;
  find(keyHash: string): Promise<FoundSessionRecord | undefined>;
  exists(keyHash: string): Promise<boolean>;
  /** Deletes one record; returns how many were deleted (0 or 1). */
  remove(keyHash: string): Promise<number>;
  /** Deletes every record of the user but `exceptKeyHash`'s; returns how many. */
  removeForUser(userId: string, exceptKeyHash?: string): Promise<number>;
  /** Deletes up to `limit` records past their idle or absolute expiry; returns how many. */
  sweep(limit: number): Promise<number>;
}

/** The record key of a session id: the id itself is never stored. */
export function sessionKeyHash(sid: string): string {
  return createHash("sha256").update(sid).digest("hex");
}

const COLUMNS =
  "key_hash, user_id, amr, auth_at, ip, user_agent, credential_epoch, created_at, absolute_expires_at, idle_expires_at, data, data_in_redis_only, client, provider";
const VALUES =
  "$1, $2, $3, to_timestamp($4 / 1000.0), $5, $6, $7, to_timestamp($8 / 1000.0), to_timestamp($9 / 1000.0), to_timestamp($10 / 1000.0), $11, $12, $13, $14";

interface Row {
  user_id: string;
  amr: string[];
  auth_at: Date;
  ip: string;
  user_agent: string;
  credential_epoch: number;
  created_at: Date;
  absolute_expires_at: Date;
  idle_expires_at: Date;
  data: Record<string, unknown> | null;
  data_in_redis_only: boolean;
  client: "app" | null;
  provider: string | null;
  user_epoch: number;
  disabled_at: Date | null;
}

const params = (keyHash: string, r: SessionRecord) => [
  keyHash,
  r.userId,
  r.amr,
  r.authAt,
  r.ip,
  r.userAgent,
  r.epoch,
  r.createdAt,
  r.absoluteExpiresAt,
  r.idleExpiresAt,
  r.data === null ? null : JSON.stringify(r.data),
  r.dataInRedisOnly,
  r.client,
  r.provider,
];

/** The records on PostgreSQL (or PGlite); `onQuery` counts each statement (metrics, tests). */
export function createSessionRecords(db: Database, onQuery: () => void = () => undefined): SessionRecords {
  const query = <T>(sql: string, values: unknown[]) => {
    onQuery();
    return db.query<T>(sql, values);
  };
  const deleted = async (sql: string, values: unknown[]) =>
    (await query<{ n: number }>(`WITH d AS (${sql} RETURNING 1) SELECT count(*)::int AS n FROM d`, values))
      .rows[0]?.n ?? 0;

  return {
    async insert(keyHash, record) {
      await query(
        `INSERT INTO session_records (${COLUMNS}) VALUES (${VALUES})
         ON CONFLICT (key_hash) DO UPDATE SET (${COLUMNS}, updated_at) = (${VALUES}, now())`,
        params(keyHash, record),
      );
    },

    async insertIfAbsent(keyHash, record) {
      await query(
        `INSERT INTO session_records (${COLUMNS}) VALUES (${VALUES}) ON CONFLICT (key_hash) DO NOTHING`,
        params(keyHash, record),
      );
    },

    async update(keyHash, record) {
      await query(
        `UPDATE session_records SET (${COLUMNS}, updated_at) = (${VALUES}, now()) WHERE key_hash = $1`,
        params(keyHash, record),
      );
    },

    async touch(keyHash, idleExpiresAt) {
      await query(
        "UPDATE session_records SET idle_expires_at = to_timestamp($2 / 1000.0), updated_at = now() WHERE key_hash = $1",
        [keyHash, idleExpiresAt],
      );
    },

    async find(keyHash) {
      const { rows } = await query<Row>(
        `SELECT r.user_id, r.amr, r.auth_at, r.ip, r.user_agent, r.credential_epoch, r.created_at,
                r.absolute_expires_at, r.idle_expires_at, r.data, r.data_in_redis_only, r.client, r.provider,
                u.credential_epoch AS user_epoch, u.disabled_at
         FROM session_records r JOIN users u ON u.id = r.user_id WHERE r.key_hash = $1`,
        [keyHash],
      );
      const row = rows[0];
      if (!row) return undefined;
      return {
        userId: row.user_id,
        amr: row.amr,
        authAt: row.auth_at.getTime(),
        ip: row.ip,
        userAgent: row.user_agent,
        epoch: row.credential_epoch,
        createdAt: row.created_at.getTime(),
        absoluteExpiresAt: row.absolute_expires_at.getTime(),
        idleExpiresAt: row.idle_expires_at.getTime(),
        data: row.data,
        dataInRedisOnly: row.data_in_redis_only,
        client: row.client,
        provider: row.provider,
        userEpoch: row.user_epoch,
        userDisabled: row.disabled_at !== null,
      };
    },

    async exists(keyHash) {
      const { rows } = await query("SELECT 1 FROM session_records WHERE key_hash = $1", [keyHash]);
      return rows.length > 0;
    },

    remove: (keyHash) => deleted("DELETE FROM session_records WHERE key_hash = $1", [keyHash]),

    removeForUser: (userId, exceptKeyHash) =>
      deleted("DELETE FROM session_records WHERE user_id = $1 AND key_hash <> $2", [
        userId,
        exceptKeyHash ?? "",
      ]),

    sweep: (limit) =>
      deleted(
        `DELETE FROM session_records WHERE key_hash IN (
           SELECT key_hash FROM session_records
           WHERE idle_expires_at < now() OR absolute_expires_at < now()
           LIMIT $1 FOR UPDATE SKIP LOCKED)`,
        [limit],
      ),
  };
}
