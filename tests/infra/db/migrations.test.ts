import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../server/config/config.js";
import { createPgliteDatabase, createPostgresDatabase } from "../../../server/infra/db/database.js";
import { isMigrationRetryable, MigrationError, migrate } from "../../../server/infra/db/migrate.js";
import { MIGRATIONS } from "../../../server/infra/db/migrations.js";
import { createRuntime } from "../../../server/process/runtime.js";
import { testEnv } from "../../helpers/app.js";
import { capturingLogger, silentLogger } from "../../helpers/logger.js";
import { freePort } from "../../helpers/ports.js";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const tablesBySchema = `
  SELECT table_schema, table_name FROM information_schema.tables
  WHERE table_name IN ('users', 'schema_migrations') ORDER BY table_name`;

describe("DATABASE_SCHEMA on the embedded PGlite", () => {
  it("puts the tables in that schema, not in public, and finds them again after a restart", async () => {
    const dataDir = tempDir();
    const first = await createPgliteDatabase({ dataDir, schema: "app_data" });
    try {
      expect(await migrate(first, silentLogger(), "app_data")).toEqual(MIGRATIONS.map((m) => m.version));
      const { rows } = await first.query(tablesBySchema);
      expect(rows).toEqual([
        { table_schema: "app_data", table_name: "schema_migrations" },
        { table_schema: "app_data", table_name: "users" },
      ]);
      await first.query("INSERT INTO users (email, password_hash) VALUES ('a@example.com', 'x')");
    } finally {
      await first.close();
    }

    const again = await createPgliteDatabase({ dataDir, schema: "app_data" });
    try {
      expect(await migrate(again, silentLogger(), "app_data")).toEqual([]);
      const { rows } = await again.query<{ email: string }>("SELECT email FROM users");
      expect(rows).toEqual([{ email: "a@example.com" }]);
    } finally {
      await again.close();
    }
  });
});

describe("migration failures", () => {
  it("a connection that cannot be made is worth retrying", async () => {
    const port = await freePort();
    const unreachable = createPostgresDatabase(
      { url: `postgres://postgres@127.0.0.1:${port}/test`, poolMax: 1, timeoutMs: 1000 },
      silentLogger(),
    );
    const refused = await migrate(unreachable, silentLogger()).catch((err: unknown) => err);
    await unreachable.close();
    expect(refused).toBeInstanceOf(Error);
    expect(isMigrationRetryable(refused)).toBe(true);
  });

  it("a migration whose SQL fails stops the boot at once, naming the migration and the database's message", async () => {
    // A table already there makes migration 1 fail the same way on every attempt.
    const dataDir = tempDir();
    const setup = await createPgliteDatabase({ dataDir });
    await setup.exec("CREATE TABLE users (id integer)");
    await setup.close();

    const log = capturingLogger("warn");
    const config = loadConfig(testEnv({ DATA_DIR: dataDir }));
    const started = Date.now();
    const err = await createRuntime(config, log.logger).then(
      () => new Error("the runtime started"),
      (e: unknown) => e,
    );
    // Retrying took over 30 s of back-off alone; one attempt (opening PGlite included) takes far less.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(err).toBeInstanceOf(MigrationError);
    expect(isMigrationRetryable(err)).toBe(false);
    expect((err as Error).message).toMatch(
      /^migration 1 \(create_users\) failed: relation "users" already exists/,
    );
    expect(log.text()).not.toMatch(/retrying migrations/);
  });
});
