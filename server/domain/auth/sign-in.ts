import type { Config } from "../../config/config.js";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import { describeDevice } from "../../lib/user-agent.js";
import type { Metrics } from "../metrics/metrics.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import type { SecurityEvents } from "../security/events.js";
import type { UserSessions } from "../session/user-sessions.js";
import type { AccountContext, ClientInfo, DevicePort } from "./account-context.js";
import type { MailRequests } from "./account-recovery.js";
import type { DeviceCookies, DeviceOwner } from "./device-cookie.js";
import type { AuthMethod, SessionAuth } from "./session-auth.js";
import { sessionUser } from "./session-user.js";
import type { UserRecord } from "./user-repository.js";

const USER_AGENT_MAX = 256; // characters kept in the session

/** How the person was authenticated on the way in. */
export interface SignInMethod {
  /** RFC 8176 values, at least one: `["pwd"]`, `["pwd", "otp"]`, `["hwk", "user"]`, `["fed"]`. */
  amr: [AuthMethod, ...AuthMethod[]];
  /**
   * The account was created by this sign-in: its owner is the one signing in, so no `login_succeeded`
   * event and no new-device notice.
   */
  newAccount?: boolean;
  /** The provider that vouched for the person (`amr: ["fed"]`), for the event and the log. */
  provider?: string;
}

export interface SignIn {
  /**
   * The end of every way in (password login, registration; a second factor, a provider's callback, a
   * token or a device code alike). The caller has verified the person and `record` is the row it verified
   * them against. Logs them in on a new session id, recording `amr` and `authAt` (= `loginAt`); drops this
   * browser's previous session from the index and the least recently used sessions past
   * SESSION_MAX_PER_USER; marks the browser as a known device; counts the login and, unless the account is
   * new, records `login_succeeded` and mails a notice when the device is new to the account. A disabled
   * account is refused (`invalid_credentials`) whatever verified it.
   */
  signIn(record: UserRecord, context: AccountContext, method: SignInMethod): Promise<Express.User>;
  /**
   * A new session for the person already signed in on `context`, after a credential change moved
   * `record`'s epoch: as `signIn` without the login's count, event and notice. `amr` is how the session is
   * now authenticated.
   */
  renewSession(record: UserRecord, context: AccountContext, amr: AuthMethod[]): Promise<Express.User>;
  /** Marks this browser as a known device of `owner` (renewing its cookie when it already was one). */
  trustDevice(device: DevicePort | undefined, owner: DeviceOwner): void;
}

/** The session every way in ends with: one rule for ids, the index, the cap, device trust and events. */
export function createSignIn(deps: {
  config: Config;
  sessions: UserSessions;
  logger: Logger;
  devices: DeviceCookies;
  limits: Partial<Pick<ProductRateLimits, "signInNotice">>;
  metrics?: Pick<Metrics, "loginsTotal">;
  events: Pick<SecurityEvents, "record">;
  mail?: MailRequests;
}): SignIn {
  const { config, sessions, logger, devices, limits, metrics, events, mail } = deps;
  let warnedInsecure = false;

  const trustDevice = (device: DevicePort | undefined, owner: DeviceOwner) => {
    if (!device) return;
    // A device already trusted stays trusted, from when the person chose it, not from this login.
    device.set(devices.issue(owner, devices.verify(device.value, owner), device.value));
  };

  const warnIfCookieDropped = (client: ClientInfo) => {
    if (config.session.cookieSecure && !client.secure && !client.app && !warnedInsecure) {
      warnedInsecure = true;
      logger.warn(
        "login over plain HTTP with COOKIE_SECURE=true: the browser gets no session cookie; behind a proxy set TRUST_PROXY to its hop count",
      );
    }
  };

  const startSession = async (
    { session, client }: AccountContext,
    user: Express.User,
    owner: DeviceOwner,
    amr: AuthMethod[],
    provider?: string,
  ) => {
    const previous = session.user ? { userId: session.user.id, sid: session.id } : undefined;
    const now = Date.now();
    // lastSeenAt stays unset until the first minute has passed: until then it equals loginAt.
    const auth: SessionAuth = {
      loginAt: now,
      ip: client.ip,
      userAgent: client.userAgent.slice(0, USER_AGENT_MAX),
      epoch: user.credentialEpoch ?? 0,
      amr,
      authAt: now,
      ...(provider ? { provider } : {}),
      ...(client.app ? { client: "app" as const } : {}),
    };
    await session.logIn(user, auth);
    if (previous) await sessions.forget(previous.userId, [previous.sid]);
    await sessions.track(user.id, { id: session.id, auth });
    trustDevice(session.device, owner);
    if (config.session.maxPerUser > 0) {
      const ended = await sessions
        .trim(user.id, config.session.maxPerUser, session.id)
        .catch((err: unknown) => {
          logger.warn(
            { component: "session", err: err instanceof Error ? { message: err.message } : undefined },
            "sessions past SESSION_MAX_PER_USER not ended",
          );
          return 0;
        });
      if (ended > 0) logger.info({ userId: user.id, ended }, "least recently used sessions ended");
    }
    warnIfCookieDropped(client);
  };

  /**
   * Mails the owner about a sign-in from a device the account has not used, once per device and address
   * a day (a client without a cookie jar is a "new device" at every login). Never fails the login.
   */
  const notifySignIn = (userId: string, client: ClientInfo) => {
    const device = describeDevice(client.userAgent);
    const allowed = limits.signInNotice
      ? limits.signInNotice.allow(userId, device, client.ip).catch(() => true) // unsure: notify
      : Promise.resolve(true);
    void allowed.then((send) => {
      if (send) mail?.queueQuietly({ kind: "new-sign-in", userId, device, ip: client.ip, at: Date.now() });
    });
  };

  return {
    async signIn(record, context, { amr, newAccount = false, provider }) {
      if (record.disabledAt) throw new HttpError("invalid_credentials");
      const knownDevice = devices.verify(context.session.device?.value, record) !== undefined;
      // The epoch of the row the person was verified against: a change that lands while this sign-in is
      // in flight makes the session it creates invalid.
      const user = sessionUser(record);
      await startSession(context, user, record, amr, provider);
      metrics?.loginsTotal.inc();
      if (newAccount) return user;
      events.record("login_succeeded", { userId: user.id, provider });
      if (config.mail.notifyNewSignIn && !knownDevice) notifySignIn(user.id, context.client);
      logger.info({ userId: user.id, amr, provider }, "user logged in");
      return user;
    },

    async renewSession(record, context, amr) {
      const user = sessionUser(record);
      await startSession(context, user, record, amr);
      return user;
    },

    trustDevice,
  };
}
