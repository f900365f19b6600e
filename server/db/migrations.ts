/** Versioned schema changes, applied in order once each. Never edit one that has shipped: add the next. */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
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
];
