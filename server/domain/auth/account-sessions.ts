import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { Metrics } from "../metrics/metrics.js";
import type { SecurityEvents } from "../security/events.js";
import type { SessionView, UserSessions } from "../session/user-sessions.js";
import type { SessionPort } from "./account-context.js";
import type { SignIn } from "./sign-in.js";
import type { UserRepository } from "./user-repository.js";

/** The signed-in user of `session`, or `unauthenticated`. */
export function requireUser(session: SessionPort): Express.User {
  if (!session.user) throw new HttpError("unauthenticated");
  return session.user;
}

/** Logout and the user's own session list: list, revoke one, revoke every other. */
export function createAccountSessions(deps: {
  users: UserRepository;
  sessions: UserSessions;
  logger: Logger;
  signIn: Pick<SignIn, "trustDevice">;
  metrics?: Pick<Metrics, "logoutsTotal">;
  events: Pick<SecurityEvents, "record">;
}) {
  const { users, sessions, logger, signIn, metrics, events } = deps;

  return {
    async logout(session: SessionPort): Promise<void> {
      const userId = session.user?.id;
      const sid = session.id;
      await session.destroy();
      if (userId) {
        await sessions.forget(userId, [sid]);
        metrics?.logoutsTotal.inc();
        events.record("logged_out", { userId });
        logger.info({ userId }, "user logged out");
      }
    },

    async listSessions(session: SessionPort): Promise<SessionView[]> {
      return sessions.list(requireUser(session).id, session.id);
    },

    async revokeSession(session: SessionPort, publicId: string): Promise<void> {
      const user = requireUser(session);
      const { found, sid } = await sessions.revoke(user.id, publicId);
      if (!found) throw new HttpError("not_found", { message: "No such session" });
      logger.info({ userId: user.id }, "session revoked");
      events.record("session_revoked", { userId: user.id });
      // The store copy is gone; make sure this request does not write the current one back.
      if (sid === session.id) await session.destroy();
    },

    async revokeOtherSessions(session: SessionPort): Promise<number> {
      const user = requireUser(session);
      const count = await sessions.revokeOthers(user.id, session.id);
      // Every other device is forgotten too; this browser stays known with a new cookie.
      const deviceEpoch = await users.revokeDevices(user.id);
      if (deviceEpoch !== undefined) {
        signIn.trustDevice(session.device, {
          id: user.id,
          credentialEpoch: user.credentialEpoch ?? 0,
          deviceEpoch,
        });
      }
      logger.info({ userId: user.id, count }, "other sessions revoked");
      events.record("other_sessions_revoked", { userId: user.id, count });
      return count;
    },
  };
}
