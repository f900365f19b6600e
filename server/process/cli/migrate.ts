import { ConfigError, loadConfig } from "../../config/config.js";
import { migrate } from "../../infra/db/migrate.js";
import { createLogger } from "../../infra/logging/logger.js";
import { createRuntimeContext, openDatabase } from "../runtime.js";

/** `npm run db:migrate`: applies pending migrations to the configured database and exits. */
async function run() {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const ctx = createRuntimeContext(config, logger);
  try {
    const applied = await migrate(await openDatabase(ctx), logger, config.database.schema);
    logger.info({ applied }, applied.length ? "migrations applied" : "database is up to date");
  } finally {
    await ctx.close();
  }
}

run().catch((err: Error) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `migration failed: ${err.message}`}\n`);
  process.exit(1);
});
