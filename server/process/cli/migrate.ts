import { boot, fatal } from "../boot.js";
import { migrateDatabase } from "../runtime.js";

/**
 * `npm run db:migrate`: applies pending migrations to the configured database (DATABASE_URL from the
 * environment or `.env`) and exits; Railway's pre-deploy command. Safe beside running instances: it
 * takes the same advisory lock as the web process.
 */
async function run() {
  const { config, logger } = boot({ role: "cli migrate", serves: false });
  if (!config.database.url) {
    logger.warn(
      { dataDir: config.database.dataDir },
      "No DATABASE_URL: migrating the embedded PGlite database",
    );
  }
  const applied = await migrateDatabase(config, logger).catch((err: Error) =>
    fatal(logger, `migration failed: ${err.message}`, err),
  );
  logger.info(
    { applied, ...(config.database.schema ? { schema: config.database.schema } : {}) },
    applied.length ? "migrations applied" : "database is up to date",
  );
}

void run();
