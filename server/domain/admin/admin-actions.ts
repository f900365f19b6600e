import { HttpError } from "../../lib/errors.js";
import type { AccountDeletion } from "../auth/account-deletion.js";
import type { AccountRecovery } from "../auth/account-recovery.js";
import type { GroupRepository } from "../auth/groups.js";
import type { UserRepository } from "../auth/user-repository.js";
import type { FactorReset, FactorSummary } from "../mfa/factor-reset.js";
import type { SecurityEvents } from "../security/events.js";
import type { UserSessions } from "../session/user-sessions.js";
import type { AdminUserSummary, UserDirectory } from "./user-directory.js";

/** Who acts: an admin's user id, or the ADMIN_API_KEY bearer. */
export type AdminActor = { userId: string } | { apiKey: true };

export interface AdminActions {
  disable(actor: AdminActor, userId: string): Promise<{ sessionsEnded: number }>;
  enable(actor: AdminActor, userId: string): Promise<void>;
  revokeSessions(actor: AdminActor, userId: string): Promise<{ sessionsEnded: number }>;
  revokeSession(actor: AdminActor, userId: string, sessionId: string): Promise<void>;
  sendPasswordReset(actor: AdminActor, userId: string): Promise<void>;
  resendVerification(actor: AdminActor, userId: string): Promise<void>;
  addGroup(actor: AdminActor, userId: string, group: string): Promise<void>;
  removeGroup(actor: AdminActor, userId: string, group: string): Promise<void>;
  /** Removes every second factor (the owner lost them); answers what there was. The owner is mailed. */
  resetSecondFactors(actor: AdminActor, userId: string): Promise<FactorSummary>;
  /** `confirm` must be the account's address: a destructive action names what it destroys. */
  deleteAccount(actor: AdminActor, userId: string, confirm: string): Promise<{ sessionsEnded: number }>;
}

/** What admins do to accounts; each action is a security event naming the admin (or `api_key`). */
export function createAdminActions(deps: {
  directory: Pick<UserDirectory, "find">;
  users: Pick<UserRepository, "setDisabled">;
  groups: GroupRepository;
  sessions: Pick<UserSessions, "revokeOthers" | "revoke">;
  recovery: Pick<AccountRecovery, "forgotPassword" | "resendVerification">;
  deletion: AccountDeletion;
  events: Pick<SecurityEvents, "record">;
  factors: Pick<FactorReset, "reset">;
}): AdminActions {
  const { directory, users, groups, sessions, recovery, deletion, events } = deps;

  const target = async (userId: string): Promise<AdminUserSummary> => {
    const user = await directory.find(userId);
    if (!user) throw new HttpError("not_found", { message: "No such user" });
    return user;
  };
  const record = (actor: AdminActor, action: string, user: AdminUserSummary, extra: object = {}) =>
    events.record("admin_action", {
      ...("userId" in actor ? { userId: actor.userId } : { actor: "api_key" }),
      action,
      target: user.id,
      ...extra,
    });
  const actorName = (actor: AdminActor) => ("userId" in actor ? actor.userId : "api_key");

  return {
    async disable(actor, userId) {
      const user = await target(userId);
      // Under the lock a group removal takes: the last enabled admin stays enabled.
      await groups.unlessLastAdmin(user.id, (tx) =>
        tx.query(
          "UPDATE users SET disabled_at = coalesce(disabled_at, now()), updated_at = now() WHERE id = $1",
          [user.id],
        ),
      );
      const sessionsEnded = await sessions.revokeOthers(user.id, "");
      record(actor, "disable", user, { count: sessionsEnded });
      return { sessionsEnded };
    },
    async enable(actor, userId) {
      const user = await target(userId);
      await users.setDisabled(user.id, false);
      record(actor, "enable", user);
    },
    async revokeSessions(actor, userId) {
      const user = await target(userId);
      const sessionsEnded = await sessions.revokeOthers(user.id, "");
      record(actor, "revoke_sessions", user, { count: sessionsEnded });
      return { sessionsEnded };
    },
    async revokeSession(actor, userId, sessionId) {
      const user = await target(userId);
      const { found } = await sessions.revoke(user.id, sessionId);
      if (!found) throw new HttpError("not_found", { message: "No such session" });
      record(actor, "revoke_session", user, { count: 1 });
    },
    async sendPasswordReset(actor, userId) {
      const user = await target(userId);
      if (user.disabled) throw new HttpError("invalid_request", { message: "The account is disabled" });
      await recovery.forgotPassword(user.email);
      record(actor, "password_reset_sent", user);
    },
    async resendVerification(actor, userId) {
      const user = await target(userId);
      await recovery.resendVerification({ userId: user.id, email: user.email });
      record(actor, "verification_sent", user);
    },
    async addGroup(actor, userId, group) {
      const user = await target(userId);
      if (await groups.add(user.id, group)) record(actor, "group_added", user, { group });
    },
    async removeGroup(actor, userId, group) {
      const user = await target(userId);
      if (await groups.remove(user.id, group)) record(actor, "group_removed", user, { group });
    },
    async resetSecondFactors(actor, userId) {
      const user = await target(userId);
      const before = await deps.factors.reset(user.id, actorName(actor));
      record(actor, "second_factors_reset", user);
      return before;
    },
    async deleteAccount(actor, userId, confirm) {
      const user = await target(userId);
      if (confirm.toLowerCase() !== user.email.toLowerCase()) {
        throw new HttpError("invalid_request", {
          message: "confirm must be the account's email address",
          details: { field: "confirm" },
        });
      }
      const done = await deletion.deleteAccount(user.id, actorName(actor));
      if (!done) throw new HttpError("not_found", { message: "No such user" });
      return done;
    },
  };
}
