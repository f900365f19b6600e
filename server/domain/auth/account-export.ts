import type { SecurityEvents } from "../security/events.js";
import type { SessionView, UserSessions } from "../session/user-sessions.js";
import type { GroupRepository } from "./groups.js";
import type { UserRepository } from "./user-repository.js";

/** What "download my data" gives: the account, its sessions and its recorded activity. */
export interface AccountExport {
  exportedAt: string;
  account: {
    id: string;
    email: string;
    createdAt: string;
    emailVerified: boolean;
    groups: string[];
  };
  sessions: SessionView[];
  events: Array<{
    at: string;
    event: string;
    ip?: string;
    device?: string;
    userAgent?: string;
    count?: number;
  }>;
}

/**
 * The user's own data as JSON. Events keep only what describes the user's own requests: an admin's
 * action is listed under the admin, and fields naming other accounts are never copied.
 */
export function createAccountExport(deps: {
  users: Pick<UserRepository, "findById">;
  groups: Pick<GroupRepository, "groupsOf">;
  sessions: Pick<UserSessions, "list">;
  events: Pick<SecurityEvents, "recent" | "record">;
  now?: () => number;
}): { exportAccount(userId: string, currentSid: string): Promise<AccountExport | undefined> } {
  const { users, groups, sessions, events } = deps;
  const now = deps.now ?? Date.now;
  return {
    async exportAccount(userId, currentSid) {
      const user = await users.findById(userId);
      if (!user) return undefined;
      const [names, list, recent] = await Promise.all([
        groups.groupsOf(userId),
        sessions.list(userId, currentSid),
        events.recent(userId),
      ]);
      events.record("account_exported", { userId });
      return {
        exportedAt: new Date(now()).toISOString(),
        account: {
          id: user.id,
          email: user.email,
          createdAt: user.createdAt.toISOString(),
          emailVerified: user.emailVerifiedAt !== null,
          groups: names,
        },
        sessions: list,
        events: recent
          .filter((e) => e.userId === userId && e.target === undefined)
          .map(({ at, event, ip, device, userAgent, count }) => ({
            at,
            event,
            ip,
            device,
            userAgent,
            count,
          })),
      };
    },
  };
}
