import type { Config } from "../config/config.js";
import type { MailComposer } from "./types.js";

/**
 * Renders each mail job into a message. Placeholder until the account-recovery flows land: it knows no
 * job kind yet and sends nothing.
 */
export function createMailComposer(_deps: { config: Config }): MailComposer {
  return async () => undefined;
}
