import { ConfigError, loadConfig } from "./config/config.js";
import { createLogger } from "./logging/logger.js";
import { loadEnvFile } from "./process/env-file.js";
import { handleShutdown } from "./process/shutdown.js";
import { createRuntime } from "./runtime.js";

// Railway's edge closes idle keep-alive connections after 60 s; ours must outlive that.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

async function main() {
  const fromEnvFile = loadEnvFile();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });
  if (fromEnvFile.length > 0)
    logger.info({ variables: fromEnvFile }, "read .env (the environment's own values win)");
  if (config.platform)
    logger.info({ platform: config.platform, env: config.env }, "hosting platform detected");
  const runtime = await createRuntime(config, logger);

  const server = runtime.app.listen(config.port, config.host, () => {
    const address = server.address();
    logger.info({ address, env: config.env }, "listening");
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;

  handleShutdown({ server, runtime, config, logger });
}

main().catch((err: Error) => {
  process.stderr.write(`fatal: ${err.message}\n`);
  process.exit(1);
});
