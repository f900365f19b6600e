import { randomUUID } from "node:crypto";
import type { Database } from "../../infra/db/database.js";

/** A personal access token as stored (migration 9); the token itself never is, only its SHA-256. */
export interface PersonalTokenRecord {
  id: string;
  userId: string;
  name: string;
  scopes: string[];
  /** The user's credential epoch at creation when a password change ends the token; null: it does not. */
  epoch: number | null;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
}

export interface PersonalTokenRecords {
  insert(
    record: Omit<PersonalTokenRecord, "id" | "createdAt" | "lastUsedAt">,
    tokenHash: string,
  ): Promise<PersonalTokenRecord>;
  /** The user's tokens that have not expired, newest first. */
  list(userId: string): Promise<PersonalTokenRecord[]>;
  /** How many unexpired tokens the user has. */
  count(userId: string): Promise<number>;
  findByHash(tokenHash: string): Promise<PersonalTokenRecord | undefined>;
  /** Deletes one of the user's tokens; returns its hash (undefined: no such token of this user). */
  remove(userId: string, id: string): Promise<string | undefined>;
  /** Records a use, unless one was recorded within the last `intervalSeconds`. */
  touch(id: string, intervalSeconds: number): Promise<void>;
}

interface Row {
  id: string;
  user_id: string;
  name: string;
  scopes: string[];
  credential_epoch: number | null;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
}

const COLUMNS = "id, user_id, name, scopes, credential_epoch, created_at, expires_at, last_used_at";

const toRecord = (row: Row): PersonalTokenRecord => ({
  id: row.id,
  userId: row.user_id,
  name: row.name,
  scopes: row.scopes,
  epoch: row.credential_epoch,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  lastUsedAt: row.last_used_at,
});

/** The personal tokens table on PostgreSQL (or PGlite). */
export function createPersonalTokenRecords(db: Database): PersonalTokenRecords {
  return {
    async insert(record, tokenHash) {
      const { rows } = await db.query<Row>(
        `INSERT INTO personal_tokens (id, user_id, name, token_hash, scopes, credential_epoch, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
        [randomUUID(), record.userId, record.name, tokenHash, record.scopes, record.epoch, record.expiresAt],
      );
      return toRecord(rows[0] as Row);
    },

    async list(userId) {
      const { rows } = await db.query<Row>(
        `SELECT ${COLUMNS} FROM personal_tokens WHERE user_id = $1 AND expires_at > now()
         ORDER BY created_at DESC`,
        [userId],
      );
      return rows.map(toRecord);
    },

    async count(userId) {
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM personal_tokens WHERE user_id = $1 AND expires_at > now()",
        [userId],
      );
      return rows[0]?.n ?? 0;
    },

    async findByHash(tokenHash) {
      const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM personal_tokens WHERE token_hash = $1`, [
        tokenHash,
      ]);
      return rows[0] ? toRecord(rows[0]) : undefined;
    },

    async remove(userId, id) {
      // Not a uuid: no such token (PostgreSQL would refuse the cast).
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      const { rows } = await db.query<{ token_hash: string }>(
        "DELETE FROM personal_tokens WHERE user_id = $1 AND id = $2 RETURNING token_hash",
        [userId, id],
      );
      return rows[0]?.token_hash;
    },

    async touch(id, intervalSeconds) {
      await db.query(
        `UPDATE personal_tokens SET last_used_at = now()
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
        [id, intervalSeconds],
      );
    },
  };
}
