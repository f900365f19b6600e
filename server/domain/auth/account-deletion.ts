import type { Logger } from "../../infra/logging/logger.js";
import type { SecurityEvents } from "../security/events.js";
import type { UserSessions } from "../session/user-sessions.js";
import type { MailRequests } from "./account-recovery.js";
import type { GroupRepository } from "./groups.js";
import type { UserRepository } from "./user-repository.js";

export interface AccountDeletion {
  /**
   * Deletes the account: its row and every row that references it (tokens, durable session records,
   * groups, by ON DELETE CASCADE), then every session and its activity list; mails a confirmation.
   * 409 `last_admin` for the only enabled admin. `actor`: `self`, an admin's id, or `api_key`.
   * Returns the sessions ended, or undefined when there was no such account.
   */
  deleteAccount(userId: string, actor: string): Promise<{ sessionsEnded: number } | undefined>;
}

/** Deleting rather than anonymising: nothing is kept that names the person (docs/guides/admin-console.md). */
export function createAccountDeletion(deps: {
  users: Pick<UserRepository, "findById">;
  groups: Pick<GroupRepository, "unlessLastAdmin">;
  sessions: Pick<UserSessions, "revokeOthers">;
  events: Pick<SecurityEvents, "record" | "forget">;
  mail: Pick<MailRequests, "queueQuietly">;
  logger: Logger;
}): AccountDeletion {
  const { users, groups, sessions, events, mail, logger } = deps;
  return {
    async deleteAccount(userId, actor) {
      const user = await users.findById(userId);
      if (!user) return undefined;
      // Under the admin lock, so the last admin cannot delete themselves while another admin leaves.
      const deleted = await groups.unlessLastAdmin(userId, async (tx) => {
        const { rows } = await tx.query("DELETE FROM users WHERE id = $1 RETURNING id", [userId]);
        return rows.length > 0;
      });
      if (!deleted) return undefined;
      // The row is gone, so no session of the user is accepted any more; this also clears them from Redis.
      const sessionsEnded = await sessions.revokeOthers(userId, "");
      await events.forget(userId);
      mail.queueQuietly({ kind: "account-deleted", email: user.email });
      events.record("account_deleted", { target: userId, actor, count: sessionsEnded });
      logger.info({ userId, actor, sessionsEnded }, "account deleted");
      return { sessionsEnded };
    },
  };
}
