import type { Database } from "../../infra/db/database.js";

export interface PasskeyRecord {
  id: string;
  userId: string;
  /** The credential id, base64url. */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  /** `singleDevice` or `multiDevice` (synced). */
  deviceType: string;
  backedUp: boolean;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface Row {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: string | number;
  transports: string[];
  device_type: string;
  backed_up: boolean;
  name: string;
  created_at: Date | string;
  last_used_at: Date | string | null;
}

const COLUMNS =
  "id, user_id, credential_id, public_key, counter, transports, device_type, backed_up, name, created_at, last_used_at";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const toRecord = (row: Row): PasskeyRecord => ({
  id: row.id,
  userId: row.user_id,
  credentialId: row.credential_id,
  publicKey: row.public_key,
  counter: Number(row.counter),
  transports: row.transports,
  deviceType: row.device_type,
  backedUp: row.backed_up,
  name: row.name,
  createdAt: new Date(row.created_at),
  lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : null,
});

export interface PasskeyRepository {
  listFor(userId: string): Promise<PasskeyRecord[]>;
  countFor(userId: string): Promise<number>;
  byCredentialId(credentialId: string): Promise<PasskeyRecord | undefined>;
  add(record: Omit<PasskeyRecord, "id" | "createdAt" | "lastUsedAt">): Promise<PasskeyRecord>;
  rename(userId: string, id: string, name: string): Promise<boolean>;
  remove(userId: string, id: string): Promise<boolean>;
  /** Removes every passkey of the user (an admin's reset); how many there were. */
  removeAll(userId: string): Promise<number>;
  /**
   * Records a use: the new counter only if it moved forward (or both are 0: authenticators without one),
   * and the backup flag. False when another use moved the counter past it first (a clone raced it).
   */
  recordUse(id: string, previousCounter: number, counter: number, backedUp: boolean): Promise<boolean>;
}

/** The passkeys (WebAuthn credentials) of each user. */
export function createPasskeyRepository(db: Database): PasskeyRepository {
  return {
    async listFor(userId) {
      const { rows } = await db.query<Row>(
        `SELECT ${COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at`,
        [userId],
      );
      return rows.map(toRecord);
    },
    async countFor(userId) {
      const { rows } = await db.query<{ n: string }>(
        "SELECT count(*) AS n FROM passkeys WHERE user_id = $1",
        [userId],
      );
      return Number(rows[0]?.n ?? 0);
    },
    async byCredentialId(credentialId) {
      const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM passkeys WHERE credential_id = $1`, [
        credentialId,
      ]);
      return rows[0] ? toRecord(rows[0]) : undefined;
    },
    async add(r) {
      const { rows } = await db.query<Row>(
        `INSERT INTO passkeys (user_id, credential_id, public_key, counter, transports, device_type, backed_up, name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
        [r.userId, r.credentialId, r.publicKey, r.counter, r.transports, r.deviceType, r.backedUp, r.name],
      );
      return toRecord(rows[0] as Row);
    },
    async rename(userId, id, name) {
      if (!UUID.test(id)) return false;
      const { rows } = await db.query(
        "UPDATE passkeys SET name = $3 WHERE id = $2 AND user_id = $1 RETURNING id",
        [userId, id, name],
      );
      return rows.length > 0;
    },
    async remove(userId, id) {
      if (!UUID.test(id)) return false;
      const { rows } = await db.query("DELETE FROM passkeys WHERE id = $2 AND user_id = $1 RETURNING id", [
        userId,
        id,
      ]);
      return rows.length > 0;
    },
    async removeAll(userId) {
      const { rows } = await db.query("DELETE FROM passkeys WHERE user_id = $1 RETURNING id", [userId]);
      return rows.length;
    },
    async recordUse(id, previousCounter, counter, backedUp) {
      const { rows } = await db.query(
        `UPDATE passkeys SET counter = $3, backed_up = $4, last_used_at = now()
         WHERE id = $1 AND counter = $2 AND ($3 > counter OR ($3 = 0 AND counter = 0)) RETURNING id`,
        [id, previousCounter, counter, backedUp],
      );
      return rows.length > 0;
    },
  };
}
