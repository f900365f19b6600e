import { CacheKeyError } from "../../domain/cache/keys.js";
import { boot, fatal } from "../boot.js";
import { createRuntimeContext, openCache, openRedis } from "../runtime.js";

const USAGE = `usage: npm run cache -- <command>
  stats                      live keys per category (counters live in each server: GET /api/cache/metrics)
  clear <category|all>       invalidate a category (or all) on every instance
  inspect <category> <key>   show a cached value, its remaining TTL and its size`;

/** Operator tool: same configuration and library as the server; never lists keys with KEYS or SCAN. */
async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === "help" || command === "--help") {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  // Logs go to stderr so stdout stays pure JSON for scripts.
  const { config, logger } = boot({
    role: "cli cache",
    destination: process.stderr,
    quiet: true,
    serves: false,
  });
  if (!config.redis) {
    process.stderr.write(
      "No Redis configured (REDIS_URL): each server keeps its cache in its own memory; use the admin API (/api/cache/*) instead\n",
    );
    return 1;
  }
  const ctx = createRuntimeContext(config, logger);
  const redis = await openRedis(ctx, config.redis, "cache-cli");
  if (redis?.status !== "ready") {
    await ctx.close();
    process.stderr.write("Redis is not reachable\n");
    return 1;
  }
  const cache = openCache(ctx, redis, { subscribe: false });
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  try {
    switch (command) {
      case "stats": {
        const counts = await cache.keyCounts();
        if (!counts) throw new Error("Redis did not answer");
        print({ pattern: cache.keys.pattern, total_keys: counts.total, keys_by_category: counts.byCategory });
        return 0;
      }
      case "clear": {
        const [category] = args;
        if (!category || args.length !== 1) break;
        const result = await cache.invalidate(category);
        print({ invalidated: result.categories, redis: result.redis });
        return result.redis === "ok" ? 0 : 1;
      }
      case "inspect": {
        const [category, key] = args;
        if (!category || key === undefined || args.length !== 2) break;
        const found = await cache.inspect(category, key);
        if (!found) {
          process.stderr.write(`not cached: ${category} ${JSON.stringify(key)}\n`);
          return 1;
        }
        print(found);
        return 0;
      }
    }
    process.stderr.write(`${USAGE}\n`);
    return 2;
  } catch (err) {
    if (err instanceof CacheKeyError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    await ctx.close().catch(() => undefined);
    fatal(logger, `cache: ${(err as Error).message}`, err);
  } finally {
    await ctx.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`cache: ${err.message}\n`);
    process.exit(1);
  },
);
