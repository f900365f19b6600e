import { createHash, randomBytes, randomInt } from "node:crypto";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { AccountContext, ClientInfo } from "./account-context.js";
import type { BeginSignIn } from "./begin-sign-in.js";
import type { DeviceGrant, DeviceGrantStore } from "./device-grants.js";
import type { AuthMethod } from "./session-auth.js";
import type { UserRepository } from "./user-repository.js";

/**
 * User codes: 8 letters from 20 consonants (RFC 8628 6.1: no vowels, so no words; no look-alikes such
 * as 0/O or 1/I), about 34 bits, typed as `XXXX-XXXX`. Guessing one is bounded by the rate limit and the
 * code's short life.
 */
const ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LENGTH = 8;
const CLIENT_NAME_MAX = 64; // characters shown on the approval page
const CREATE_ATTEMPTS = 5;

/** The RFC 8628 token endpoint's refusals, answered as `{"error": code}`. */
export type DeviceTokenError = "authorization_pending" | "slow_down" | "access_denied" | "expired_token";

export class DeviceTokenRefusal extends Error {
  constructor(readonly code: DeviceTokenError) {
    super(code);
    this.name = "DeviceTokenRefusal";
  }
}

/** A user code as typed: case, spaces and dashes ignored; undefined when it cannot be one. */
export function normalizeUserCode(input: unknown): string | undefined {
  if (typeof input !== "string" || input.length > 32) return undefined;
  const code = input.toUpperCase().replace(/[\s-]/g, "");
  if (code.length !== USER_CODE_LENGTH || [...code].some((c) => !ALPHABET.includes(c))) return undefined;
  return code;
}

export const formatUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

const REFUSALS = {
  pending: "authorization_pending",
  slow_down: "slow_down",
  denied: "access_denied",
  expired: "expired_token",
} as const;

const hashOf = (deviceCode: string) => createHash("sha256").update(deviceCode).digest("hex");

export interface DeviceSignIn {
  /** A new grant for a device: the secret device code it polls with and the user code its owner types. */
  start(
    client: ClientInfo,
    clientName: string | undefined,
  ): Promise<{ deviceCode: string; userCode: string; expiresIn: number; interval: number }>;
  /** The pending grant a user code names, for the approval page; undefined when none. */
  pending(userCode: string): Promise<DeviceGrant | undefined>;
  /**
   * The signed-in person approves (with how their session was authenticated) or denies; once per code.
   * An approval from a session that never gave the account's second factor is refused
   * (`second_factor_required`): the device would get no more than the session has.
   */
  decide(
    userCode: string,
    decision: { approve: true; user: Express.User; amr: AuthMethod[] } | { approve: false },
  ): Promise<boolean>;
  /**
   * One poll of the device: signs it in on `context` (a new bearer session through `beginSignIn`, with
   * the approving session's `amr`) once its owner approved; otherwise throws the RFC's refusal. An
   * approval from a session without the second factor the account now has is refused (`access_denied`):
   * the device has no way to give one.
   */
  poll(deviceCode: string, context: AccountContext): Promise<Express.User>;
}

/** Device sign-in (RFC 8628): codes, the approval, the polls; the session comes from `signIn`. */
export function createDeviceSignIn(deps: {
  config: { codeTtlSeconds: number; pollIntervalSeconds: number };
  store: DeviceGrantStore;
  users: Pick<UserRepository, "findById">;
  beginSignIn: BeginSignIn;
  logger: Logger;
  now?: () => number;
}): DeviceSignIn {
  const { config, store, users, beginSignIn, logger } = deps;
  const now = deps.now ?? Date.now;

  return {
    async start(client, clientName) {
      const deviceCode = randomBytes(32).toString("base64url");
      const at = now();
      for (let i = 0; i < CREATE_ATTEMPTS; i++) {
        const userCode = Array.from(
          { length: USER_CODE_LENGTH },
          () => ALPHABET[randomInt(ALPHABET.length)],
        ).join("");
        const grant: DeviceGrant = {
          userCode,
          clientName: (clientName ?? "").trim().slice(0, CLIENT_NAME_MAX) || "A device",
          ip: client.ip,
          userAgent: client.userAgent.slice(0, 256),
          createdAt: at,
          expiresAt: at + config.codeTtlSeconds * 1000,
          interval: config.pollIntervalSeconds,
          status: "pending",
        };
        if (await store.create(hashOf(deviceCode), grant)) {
          return {
            deviceCode,
            userCode,
            expiresIn: config.codeTtlSeconds,
            interval: config.pollIntervalSeconds,
          };
        }
      }
      throw new HttpError("service_unavailable");
    },

    async pending(userCode) {
      const found = await store.findByUserCode(userCode);
      return found?.grant.status === "pending" ? found.grant : undefined;
    },

    async decide(userCode, decision) {
      if (decision.approve) {
        const record = await users.findById(decision.user.id);
        if (!record || (await beginSignIn.missingFactors(record, decision.amr)).length > 0) {
          throw new HttpError("second_factor_required", {
            message: "Sign in again with your second factor to approve a device",
          });
        }
      }
      const found = await store.findByUserCode(userCode);
      if (!found) return false;
      const done = await store.decide(
        found.deviceHash,
        userCode,
        decision.approve
          ? { status: "approved", userId: decision.user.id, amr: decision.amr }
          : { status: "denied" },
      );
      if (done) {
        const userId = decision.approve ? decision.user.id : undefined;
        logger.info({ userId, approved: decision.approve }, "device sign-in decided");
      }
      return done;
    },

    async poll(deviceCode, context) {
      const result = await store.poll(hashOf(deviceCode), now());
      if (result.outcome !== "approved") throw new DeviceTokenRefusal(REFUSALS[result.outcome]);
      const { grant } = result;
      const record = grant.userId ? await users.findById(grant.userId) : undefined;
      // The account was deleted or disabled since the approval: nothing to sign in to.
      if (!record || record.disabledAt) throw new DeviceTokenRefusal("access_denied");
      const amr = grant.amr && grant.amr.length > 0 ? grant.amr : (["pwd"] as AuthMethod[]);
      const started = await beginSignIn.beginSignIn(record, context, {
        amr: amr as [AuthMethod, ...AuthMethod[]],
      });
      if (!started.mfaRequired) return started.user;
      context.session.pendingSignIn?.set(undefined);
      logger.info({ userId: record.id }, "device sign-in refused: the approval lacked the second factor");
      throw new DeviceTokenRefusal("access_denied");
    },
  };
}
