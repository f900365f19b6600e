import { ConfigError, loadConfig } from "../config/config.js";
import { createLogger } from "../logging/logger.js";
import { createPgliteDatabase, createPostgresDatabase } from "./database.js";
import { migrate } from "./migrate.js";

/** `npm run db:migrate`: applies pending migrations to the configured database and exits. */
async function run() {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const db = config.database.url
    ? createPostgresDatabase({ ...config.database, url: config.database.url }, logger)
    : await createPgliteDatabase({ dataDir: config.database.dataDir, schema: config.database.schema });
  try {
    const applied = await migrate(db, logger, config.database.schema);
    logger.info({ applied }, applied.length ? "migrations applied" : "database is up to date");
  } finally {
    await db.close();
  }
}

run().catch((err: Error) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `migration failed: ${err.message}`}\n`);
  process.exit(1);
});
