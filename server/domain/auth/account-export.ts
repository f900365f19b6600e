import type { TotpRow } from "../mfa/mfa-repository.js";
import type { PasskeyRecord } from "../mfa/passkey-repository.js";
import type { Identity } from "../oidc/identities.js";
import type { SecurityEvents } from "../security/events.js";
import type { SessionView, UserSessions } from "../session/user-sessions.js";
import type { GroupRepository } from "./groups.js";
import type { PersonalTokenView } from "./personal-tokens.js";
import type { UserRepository } from "./user-repository.js";

/**
 * What "download my data" gives: the account, its sessions, its ways in (providers, second factors,
 * personal access tokens: what the account page shows, never a secret, hash or key) and its activity.
 */
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
  /** Sign-in providers linked to the account, with the address each one gave. */
  identities: Array<{
    provider: string;
    subject: string;
    email: string | null;
    linkedAt: string;
    lastUsedAt: string;
  }>;
  secondFactors: {
    /** An authenticator app (TOTP) is on. */
    totp: boolean;
    recoveryCodesLeft: number;
    passkeys: Array<{ name: string; createdAt: string; lastUsedAt: string | null; backedUp: boolean }>;
  };
  /** Personal access tokens: their names, scopes and use, never the token or its hash. */
  personalTokens: PersonalTokenView[];
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
  identities: { linked(userId: string): Promise<Identity[]> };
  factors: {
    totpOf(userId: string): Promise<TotpRow | undefined>;
    recoveryCodesLeft(userId: string): Promise<number>;
  };
  passkeys: { listFor(userId: string): Promise<PasskeyRecord[]> };
  personalTokens: { listFor(userId: string): Promise<PersonalTokenView[]> };
  now?: () => number;
}): { exportAccount(userId: string, currentSid: string): Promise<AccountExport | undefined> } {
  const { users, groups, sessions, events } = deps;
  const now = deps.now ?? Date.now;
  return {
    async exportAccount(userId, currentSid) {
      const user = await users.findById(userId);
      if (!user) return undefined;
      const [names, list, recent, linked, totp, codesLeft, keys, tokens] = await Promise.all([
        groups.groupsOf(userId),
        sessions.list(userId, currentSid),
        events.recent(userId),
        deps.identities.linked(userId),
        deps.factors.totpOf(userId),
        deps.factors.recoveryCodesLeft(userId),
        deps.passkeys.listFor(userId),
        deps.personalTokens.listFor(userId),
      ]);
      const totpOn = Boolean(totp?.confirmedAt);
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
        identities: linked.map((i) => ({
          provider: i.provider,
          subject: i.subject,
          email: i.email,
          linkedAt: i.createdAt.toISOString(),
          lastUsedAt: i.lastUsedAt.toISOString(),
        })),
        secondFactors: {
          totp: totpOn,
          recoveryCodesLeft: totpOn ? codesLeft : 0,
          passkeys: keys.map((k) => ({
            name: k.name,
            createdAt: k.createdAt.toISOString(),
            lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
            backedUp: k.backedUp,
          })),
        },
        personalTokens: tokens,
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
