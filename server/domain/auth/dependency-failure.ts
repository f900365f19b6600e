import { isDatabaseUnavailableError } from "../../infra/db/database.js";
import { isRedisUnavailableError } from "../../infra/redis/redis-client.js";
import { DependencyUnavailableError, ServerBusyError } from "../../lib/errors.js";
import type { AccountContext } from "./account-context.js";

/**
 * The attempt failed because something other than the person failed: Redis or the database did not
 * answer, or the password-hash queue was full. Such an attempt says nothing about the password.
 */
export function isDependencyFailure(err: unknown): boolean {
  return err instanceof ServerBusyError || isOutage(err);
}

/** Redis or the database did not answer (not merely a busy hash queue). */
function isOutage(err: unknown): boolean {
  return (
    err instanceof DependencyUnavailableError ||
    isRedisUnavailableError(err) ||
    isDatabaseUnavailableError(err)
  );
}

/**
 * Runs a login or registration; when Redis or the database failed it, gives back the per-address units the
 * request was counted for. A full hash queue gives nothing back here: the per-address limit is what slows
 * one address flooding the queue.
 */
export async function sparingAddress<T>(context: AccountContext, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    if (isOutage(err)) await context.refundAddress();
    throw err;
  }
}
