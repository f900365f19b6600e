import { canonicalEmail } from "../../../shared/email.js";
import type { Database } from "./database.js";

type Transaction = Pick<Database, "query" | "exec">;

/** Versioned schema changes, applied in order once each. Never edit one that has shipped: add the next. */
export const MIGRATIONS: ReadonlyArray<{
  version: number;
  name: string;
  sql: string;
  /** Data changes SQL cannot express, run after `sql` in the same transaction. */
  run?: (tx: Transaction) => Promise<void>;
}> = [
  {
    version: 1,
    name: "create_users",
    sql: `
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
    `,
  },
  {
    version: 2,
    name: "users_credential_epoch",
    // Bumped with every password change: sessions carry the epoch they were issued under.
    sql: "ALTER TABLE users ADD COLUMN credential_epoch integer NOT NULL DEFAULT 0;",
  },
  {
    // A disabled account cannot log in and its sessions end (operator command `users disable`).
    version: 3,
    name: "add_users_disabled_at",
    sql: "ALTER TABLE users ADD COLUMN disabled_at timestamptz",
  },
  {
    // Bumped by "sign out everywhere": device cookies carry a MAC over the epoch they were issued under.
    version: 4,
    name: "users_device_epoch",
    sql: "ALTER TABLE users ADD COLUMN device_epoch integer NOT NULL DEFAULT 0;",
  },
  {
    // Accounts that existed before verification count as verified, so EMAIL_VERIFICATION=required locks
    // nobody out. Single-use links (password reset, email verification) are stored only as their SHA-256.
    version: 5,
    name: "email_verification_and_account_tokens",
    sql: `
      ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
      UPDATE users SET email_verified_at = created_at;
      CREATE TABLE account_tokens (
        token_hash text PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose text NOT NULL,
        credential_epoch integer,
        email text,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX account_tokens_user_purpose ON account_tokens (user_id, purpose);
      CREATE INDEX account_tokens_expires_at ON account_tokens (expires_at);
    `,
  },
  {
    // Emails in one normal form (shared/email.ts: NFC, lower case, punycode domain) where that is safe.
    // Rows whose normal form another row has too are never merged: each keeps its address as it was and
    // is flagged `collision`; rows with no normal form (invisible characters, compatibility letters, a
    // domain mixing scripts) keep theirs, flagged `refused`. An operator resolves them (docs/guides/operating.md).
    version: 6,
    name: "users_email_normal_form",
    sql: "ALTER TABLE users ADD COLUMN email_review text;",
    run: normaliseStoredEmails,
  },
  {
    // The durable record behind each session in Redis (docs/internals/durable-sessions.md): what a session
    // is rebuilt from when Redis has lost it. Keyed by the SHA-256 of the session id, never the id itself.
    version: 7,
    name: "session_records",
    sql: `
      CREATE TABLE session_records (
        key_hash text PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        amr text[] NOT NULL,
        auth_at timestamptz NOT NULL,
        ip text NOT NULL,
        user_agent text NOT NULL,
        credential_epoch integer NOT NULL,
        created_at timestamptz NOT NULL,
        absolute_expires_at timestamptz NOT NULL,
        idle_expires_at timestamptz NOT NULL,
        data jsonb,
        data_in_redis_only boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX session_records_user_id ON session_records (user_id);
      CREATE INDEX session_records_idle_expires_at ON session_records (idle_expires_at);
      CREATE INDEX session_records_absolute_expires_at ON session_records (absolute_expires_at);
    `,
  },
  {
    // Second factors. A TOTP secret is stored sealed with MFA_ENCRYPTION_KEY (AES-GCM bound to the user
    // id); `last_step` refuses a code of a step already used. Recovery codes are stored as their SHA-256.
    // Passkeys keep what a WebAuthn assertion is checked against: the public key, the signature counter
    // (a clone replaying an older one is refused) and the backup flags.
    version: 8,
    name: "second_factors",
    sql: `
      CREATE TABLE user_totp (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        secret_sealed text NOT NULL,
        confirmed_at timestamptz,
        last_step bigint,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE recovery_codes (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        code_hash text NOT NULL,
        used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, code_hash)
      );
      CREATE TABLE passkeys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        credential_id text NOT NULL UNIQUE,
        public_key text NOT NULL,
        counter bigint NOT NULL DEFAULT 0,
        transports text[] NOT NULL DEFAULT '{}',
        device_type text NOT NULL,
        backed_up boolean NOT NULL,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz
      );
      CREATE INDEX passkeys_user_id ON passkeys (user_id);
    `,
  },
  {
    // Clients without a cookie jar: bearer sessions are restored as what they were (an app), and personal
    // access tokens are kept as the SHA-256 of the token, never the token itself.
    version: 9,
    name: "client_tokens",
    sql: `
      ALTER TABLE session_records ADD COLUMN client text;
      CREATE TABLE personal_tokens (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        scopes text[] NOT NULL,
        credential_epoch integer,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        last_used_at timestamptz
      );
      CREATE INDEX personal_tokens_user_id ON personal_tokens (user_id);
    `,
  },
  {
    // Accounts at OpenID Connect providers and GitHub: one (provider, subject) belongs to one user. The email
    // is what the provider said when the identity was linked, shown on the account page; it never links.
    // An account created by a provider has no password: its password_hash is empty and verifies nothing.
    version: 10,
    name: "identities",
    sql: `
      CREATE TABLE identities (
        provider text NOT NULL,
        subject text NOT NULL,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        email text,
        email_verified boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, subject)
      );
      CREATE INDEX identities_user_id ON identities (user_id);
    `,
  },
  {
    // Groups a user belongs to (`admin` opens the console; teams name their own in rules and routes).
    version: 11,
    name: "user_groups",
    sql: `
      CREATE TABLE user_groups (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, name)
      );
      CREATE INDEX user_groups_name ON user_groups (name);
    `,
  },
  {
    // Sessions ended while Redis was unreachable (SESSION_FALLBACK=database), by the SHA-256 of their id:
    // Redis' copy of each is deleted before Redis serves it again (docs/internals/durable-sessions.md).
    version: 12,
    name: "session_revocations",
    sql: `
      CREATE TABLE session_revocations (
        key_hash text PRIMARY KEY,
        revoked_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX session_revocations_expires_at ON session_revocations (expires_at);
    `,
  },
  {
    // Users signed out everywhere while Redis was unreachable (SESSION_FALLBACK=database): their sessions
    // that began before `revoked_at`, but the one kept, are deleted from Redis before it serves them again.
    version: 13,
    name: "user_session_revocations",
    sql: `
      CREATE TABLE user_session_revocations (
        user_id uuid PRIMARY KEY,
        keep_key_hash text NOT NULL,
        revoked_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      );
    `,
  },
  {
    // The sign-in provider that opened a session, so a session restored from its record still tells
    // forward auth which provider vouched for the person (X-Auth-Provider).
    version: 14,
    name: "session_records_provider",
    sql: "ALTER TABLE session_records ADD COLUMN provider text;",
  },
  {
    // A counter every change to a user's second factors moves (TOTP confirmed or removed, recovery codes
    // replaced, a passkey added or removed; an admin's reset is removals): a trusted device is bound to it,
    // so no change can forget to end the trust.
    version: 15,
    name: "users_factor_epoch",
    sql: `
      ALTER TABLE users ADD COLUMN factor_epoch integer NOT NULL DEFAULT 0;
      CREATE FUNCTION bump_factor_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        EXECUTE format('UPDATE %I.users SET factor_epoch = factor_epoch + 1 WHERE id = $1', TG_TABLE_SCHEMA)
          USING (CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END);
        RETURN NULL;
      END $$;
      CREATE TRIGGER user_totp_factor_epoch AFTER DELETE OR UPDATE OF confirmed_at ON user_totp
        FOR EACH ROW EXECUTE FUNCTION bump_factor_epoch();
      CREATE TRIGGER recovery_codes_factor_epoch AFTER INSERT ON recovery_codes
        FOR EACH ROW EXECUTE FUNCTION bump_factor_epoch();
      CREATE TRIGGER passkeys_factor_epoch AFTER INSERT OR DELETE ON passkeys
        FOR EACH ROW EXECUTE FUNCTION bump_factor_epoch();
    `,
  },
];

/** Migration 6's data step: normalise the addresses that can be, flag the rest. */
export async function normaliseStoredEmails(tx: Transaction): Promise<void> {
  const { rows } = await tx.query<{ id: string; email: string }>("SELECT id, email FROM users");
  const byForm = new Map<string, string[]>();
  const refused: string[] = [];
  const forms = new Map<string, string>();
  for (const row of rows) {
    const canonical = canonicalEmail(row.email);
    if (!canonical.ok) {
      refused.push(row.id);
      continue;
    }
    forms.set(row.id, canonical.email);
    byForm.set(canonical.email, [...(byForm.get(canonical.email) ?? []), row.id]);
  }
  const flag = (ids: string[], review: string) =>
    ids.length > 0
      ? tx.query("UPDATE users SET email_review = $2 WHERE id = ANY($1::uuid[])", [ids, review])
      : undefined;
  await flag(refused, "refused");
  const collisions = [...byForm.values()].filter((ids) => ids.length > 1).flat();
  await flag(collisions, "collision");
  for (const row of rows) {
    const form = forms.get(row.id);
    if (form === undefined || form === row.email || (byForm.get(form)?.length ?? 0) > 1) continue;
    await tx.query("UPDATE users SET email = $2, updated_at = now() WHERE id = $1", [row.id, form]);
  }
}
