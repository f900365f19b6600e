import type { Config } from "../config/config.js";
import type { Database } from "../db/database.js";
import type { Logger } from "../logging/logger.js";
import type { MailComposer } from "./types.js";

/**
 * Renders each mail job into a message, looking up what it needs in the database (the web process and
 * `server/worker.ts` build it alike). Placeholder until the account-recovery flows land: it sends nothing.
 */
export function createMailComposer(_deps: { config: Config; db: Database; logger: Logger }): MailComposer {
  return async () => undefined;
}
