import { normalizeEmail } from "../../../shared/validation.js";
import type { Config } from "../../config/config.js";
import { createMailRequests } from "../../domain/auth/account-recovery.js";
import { createGroupRepository, GROUP_NAME } from "../../domain/auth/groups.js";
import { createUserCache, type UserCache } from "../../domain/auth/user-cache.js";
import { createUserRepository, type UserRecord } from "../../domain/auth/user-repository.js";
import { createFactorReset } from "../../domain/mfa/factor-reset.js";
import { createMfaRepository } from "../../domain/mfa/mfa-repository.js";
import { createPasskeyRepository } from "../../domain/mfa/passkey-repository.js";
import { createProductRateLimits } from "../../domain/ratelimit/policies.js";
import { RedisRateLimitStore } from "../../domain/ratelimit/redis-store.js";
import { createRedisLockedAccounts } from "../../domain/security/locked-accounts.js";
import type { UserSessions } from "../../domain/session/user-sessions.js";
import type { Database } from "../../infra/db/database.js";
import type { Logger } from "../../infra/logging/logger.js";
import type { Redis } from "../../infra/redis/redis-client.js";
import { HttpError } from "../../lib/errors.js";
import { boot, fatal } from "../boot.js";
import {
  createRuntimeContext,
  openCache,
  openDatabase,
  openMailQueue,
  openRedis,
  prepareSchema,
  type RuntimeContext,
} from "../runtime.js";
import { createSessionServices } from "../services.js";

const USAGE = `usage: node dist/server/process/cli/ops.js <command>   (npm run ops -- <command>)
  sessions list --user EMAIL               the user's live sessions
  sessions revoke --user EMAIL [--id ID]   end one session (ID from "sessions list") or all of them
  lockout clear EMAIL                      forget the failed logins that lock the account
  users disable EMAIL                      refuse the user's logins and end their sessions
  users enable EMAIL                       allow the user to log in again
  users groups EMAIL [add|remove NAME]     the user's groups, or add or remove one (the last admin stays)
  users mfa-reset EMAIL                    remove every second factor (TOTP, recovery codes, passkeys); mails the user
Output is JSON on stdout; exit 0 done, 1 failed or not found, 2 usage.`;

class UsageError extends Error {}
class NotFound extends Error {}

interface Context {
  config: Config;
  logger: Logger;
  redis(): Promise<Redis>;
  db(): Promise<Database>;
  /** Where what the commands open is registered, to close it at the end. */
  runtime: RuntimeContext;
}

/** Operator commands for a deployed instance; they run from the built output with production dependencies. */
async function main(argv: string[]): Promise<number> {
  const [group, action, ...rest] = argv;
  if (!group || group === "help" || group === "--help") {
    process.stderr.write(`${USAGE}\n`);
    return group ? 0 : 2;
  }
  // Logs go to stderr so stdout stays pure JSON for scripts.
  const { config, logger } = boot({
    role: "cli ops",
    destination: process.stderr,
    quiet: true,
    serves: false,
  });
  // The web process (or `npm run db:migrate`) migrates; an operator command only checks the schema.
  const runtime = createRuntimeContext(config, logger, "check");
  const ctx = context(runtime);
  try {
    const result = await run(ctx, group, action, rest);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message ? `${err.message}\n` : ""}${USAGE}\n`);
      return 2;
    }
    // A refusal the product explains (e.g. `last_admin`) is said as it is, not as a crash.
    if (err instanceof NotFound || (err instanceof HttpError && err.status < 500)) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    await runtime.close().catch(() => undefined);
    fatal(logger, `ops: ${(err as Error).message}`, err);
  } finally {
    await runtime.close().catch(() => undefined);
  }
}

async function run(
  ctx: Context,
  group: string,
  action: string | undefined,
  args: string[],
): Promise<unknown> {
  const command = `${group} ${action ?? ""}`.trim();
  switch (command) {
    case "sessions list": {
      const { user: email } = options(args, ["user"], ["user"]);
      const user = await findUser(ctx, email as string);
      const sessions = await userSessions(ctx);
      return { user: user.email, sessions: await sessions.list(user.id, "") };
    }
    case "sessions revoke": {
      const { user: email, id } = options(args, ["user", "id"], ["user"]);
      const user = await findUser(ctx, email as string);
      const sessions = await userSessions(ctx);
      if (id === undefined) return { user: user.email, revoked: await sessions.revokeOthers(user.id, "") };
      const { found } = await sessions.revoke(user.id, id);
      if (!found) throw new NotFound(`no session ${JSON.stringify(id)} for ${user.email}`);
      return { user: user.email, revoked: 1 };
    }
    case "lockout clear": {
      const email = single(args);
      const redis = await ctx.redis();
      const limits = createProductRateLimits({
        config: ctx.config,
        logger: ctx.logger,
        store: new RedisRateLimitStore(redis),
        locked: createRedisLockedAccounts({ redis, keyPrefix: ctx.config.keyPrefix }),
      });
      await limits.loginAccount.clear(email);
      return { email, lockout: "cleared" };
    }
    case "users disable":
    case "users enable": {
      const disable = action === "disable";
      const user = await findUser(ctx, single(args));
      // Through the user cache, so every instance drops its copy and stops accepting the user's sessions.
      const { repository: users } = await userCache(ctx);
      await users.setDisabled(user.id, disable);
      const revoked = disable ? await (await userSessions(ctx)).revokeOthers(user.id, "") : 0;
      return { user: user.email, disabled: disable, sessions_revoked: revoked };
    }
    case "users groups": {
      const [email, change, name, ...extra] = args;
      if (!email || extra.length > 0) throw new UsageError("expected EMAIL [add|remove NAME]");
      const user = await findUser(ctx, normalizeEmail(email));
      const { groups } = await userCache(ctx);
      if (change !== undefined) {
        if ((change !== "add" && change !== "remove") || !name || !GROUP_NAME.test(name)) {
          throw new UsageError(
            "expected add|remove NAME (a group name: lower case letters, digits, '.', '_', '-')",
          );
        }
        const done = change === "add" ? await groups.add(user.id, name) : await groups.remove(user.id, name);
        if (!done && change === "remove") throw new NotFound(`${user.email} is not in group ${name}`);
      }
      return { user: user.email, groups: await groups.groupsOf(user.id) };
    }
    case "users mfa-reset": {
      const user = await findUser(ctx, normalizeEmail(single(args)));
      const db = await ctx.db();
      const factors = createFactorReset({
        repository: createMfaRepository(db),
        passkeys: createPasskeyRepository(db),
        mail: createMailRequests({ queue: await openMailQueue(ctx.runtime), logger: ctx.logger }),
        logger: ctx.logger,
      });
      return { user: user.email, removed: await factors.reset(user.id, "cli") };
    }
  }
  throw new UsageError(`unknown command: ${command}`);
}

/** Users through the cache, so every instance drops its copy after a change. */
async function userCache(ctx: Context): Promise<UserCache> {
  const db = await ctx.db();
  const cache = openCache(ctx.runtime, await ctx.redis(), { subscribe: false });
  return createUserCache({ cache, users: createUserRepository(db), groups: createGroupRepository(db) });
}

function context(runtime: RuntimeContext): Context {
  const { config, logger } = runtime;
  let redis: Promise<Redis> | undefined;
  let db: Promise<Database> | undefined;
  const ctx: Context = {
    config,
    logger,
    runtime,
    redis() {
      redis ??= (async () => {
        if (!config.redis) {
          throw new NotFound(
            "No Redis configured (REDIS_URL): sessions and lockouts live in each server's memory; this command needs the shared Redis",
          );
        }
        const client = await openRedis(runtime, config.redis, "ops-cli");
        if (client?.status !== "ready") throw new NotFound("Redis is not reachable");
        return client;
      })();
      return redis;
    },
    db() {
      db ??= (async () => {
        if (!config.database.url) {
          // The embedded database belongs to the one server process that has it open.
          throw new NotFound(
            "No DATABASE_URL: the embedded database can only be changed by the server that owns it",
          );
        }
        const database = await openDatabase(runtime);
        await prepareSchema(database, runtime);
        return database;
      })();
      return db;
    },
  };
  return ctx;
}

async function findUser(ctx: Context, email: string): Promise<UserRecord> {
  const user = await createUserRepository(await ctx.db()).findByEmail(normalizeEmail(email));
  if (!user) throw new NotFound(`no user with email ${JSON.stringify(normalizeEmail(email))}`);
  return user;
}

async function userSessions(ctx: Context): Promise<UserSessions> {
  // With the database, so a revocation deletes the durable records too.
  return createSessionServices(ctx.config, {
    redis: await ctx.redis(),
    db: await ctx.db(),
    logger: ctx.logger,
  }).sessions;
}

/** `--name value` pairs; each name at most once, `required` ones present, nothing else. */
function options(args: string[], allowed: string[], required: string[]): Record<string, string | undefined> {
  const found: Record<string, string | undefined> = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]?.replace(/^--/, "");
    const value = args[i + 1];
    if (
      !args[i]?.startsWith("--") ||
      !name ||
      !allowed.includes(name) ||
      name in found ||
      value === undefined
    ) {
      throw new UsageError(`unexpected argument: ${args[i]}`);
    }
    found[name] = value;
  }
  for (const name of required) if (found[name] === undefined) throw new UsageError(`--${name} is required`);
  return found;
}

function single(args: string[]): string {
  if (args.length !== 1 || !args[0] || args[0].startsWith("--")) throw new UsageError("expected one EMAIL");
  return normalizeEmail(args[0]);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`ops: ${err.message}\n`);
    process.exit(1);
  },
);
