import type {
  AuthenticationResponseJSON,
  AuthenticatorTransportFuture,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import type { Logger } from "../../infra/logging/logger.js";
import { HttpError } from "../../lib/errors.js";
import type { AccountContext, SessionPort } from "../auth/account-context.js";
import type { MailRequests } from "../auth/account-recovery.js";
import { requireUser } from "../auth/account-sessions.js";
import type { BeginSignIn, SignInOutcome } from "../auth/begin-sign-in.js";
import type { AuthMethod } from "../auth/session-auth.js";
import type { SignIn } from "../auth/sign-in.js";
import type { StepUp } from "../auth/step-up.js";
import type { UserRepository } from "../auth/user-repository.js";
import type { SecurityEvents } from "../security/events.js";
import { CHALLENGE_TTL_SECONDS, type ChallengeStore } from "./challenge-store.js";
import type { PasskeyRecord, PasskeyRepository } from "./passkey-repository.js";

/**
 * @simplewebauthn/server, loaded on the first passkey ceremony rather than at start-up: with its certificate
 * parsers it is about a fifth of the modules a process would load, and most processes (every worker a
 * deploy or a crash starts) never run a ceremony.
 */
let library: Promise<typeof import("@simplewebauthn/server")> | undefined;
const webauthn = () => {
  library ??= import("@simplewebauthn/server");
  return library;
};

/** A passkey as its owner sees it. */
export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** Synced between the owner's devices (a multi-device credential that is backed up). */
  backedUp: boolean;
}

/** Where passkeys are valid: the relying party id (a host name) and the origins a ceremony may run on. */
export interface RelyingParty {
  id: string;
  name: string;
  origins: string[];
  /** False in production without PUBLIC_URL or APP_ORIGIN: no ceremony may run for a guessed origin. */
  configured: boolean;
}

export interface Passkeys {
  /** Registration options for a new passkey of the signed-in user (step-up). */
  registrationOptions(session: SessionPort): Promise<PublicKeyCredentialCreationOptionsJSON>;
  /** Verifies the browser's answer and stores the passkey under `name` (step-up). */
  register(session: SessionPort, response: RegistrationResponseJSON, name: string): Promise<PasskeyView>;
  list(session: SessionPort): Promise<PasskeyView[]>;
  rename(session: SessionPort, id: string, name: string): Promise<void>;
  /** Removes one passkey (step-up). */
  remove(session: SessionPort, id: string): Promise<void>;
  /**
   * Options for an assertion: for this browser's pending sign-in, the user's passkeys (second factor);
   * otherwise none listed, so the browser offers its discoverable credentials (passwordless).
   */
  loginOptions(context: AccountContext): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /**
   * Verifies an assertion. With a pending sign-in of the passkey's owner on this browser it completes
   * it (`amr` plus `hwk`); otherwise it is a sign-in of its own (`["hwk","user"]` when the authenticator
   * verified the person, which needs no other factor) through `beginSignIn`.
   */
  login(response: AuthenticationResponseJSON, context: AccountContext): Promise<SignInOutcome>;
  /**
   * Whether `response` is a valid assertion of one of `userId`'s passkeys, for a challenge issued by
   * `loginOptions` (the second factor of `POST /auth/mfa/verify`). Records the use like a sign-in.
   */
  verifyFactor(userId: string, response: AuthenticationResponseJSON): Promise<boolean>;
  countFor(userId: string): Promise<number>;
}

const refused = () => new HttpError("passkey_refused");

const view = (r: PasskeyRecord): PasskeyView => ({
  id: r.id,
  name: r.name,
  createdAt: r.createdAt.toISOString(),
  lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
  backedUp: r.backedUp,
});

/** Passkeys (WebAuthn) with @simplewebauthn/server: register, manage, and sign in with one. */
export function createPasskeys(deps: {
  repository: PasskeyRepository;
  challenges: ChallengeStore;
  users: UserRepository;
  rp: RelyingParty;
  stepUp: Pick<StepUp, "requireRecentAuthentication">;
  signIn: Pick<SignIn, "signIn">;
  beginSignIn: BeginSignIn;
  events: Pick<SecurityEvents, "record">;
  logger: Logger;
  /** Mails the owner a notice of every change to a factor. */
  mail?: Pick<MailRequests, "queueQuietly">;
  now?: () => number;
}): Passkeys {
  const { repository, challenges, users, rp, stepUp, signIn, beginSignIn, events, logger } = deps;
  const now = deps.now ?? Date.now;
  const timeout = CHALLENGE_TTL_SECONDS * 1000;

  const requireConfigured = () => {
    if (!rp.configured) {
      throw new HttpError("not_configured", {
        message: "Passkeys need PUBLIC_URL or APP_ORIGIN in production",
      });
    }
  };

  const pendingOf = (context: AccountContext) => {
    const pending = context.session.pendingSignIn?.value;
    return pending && pending.expiresAt > now() ? pending : undefined;
  };

  /**
   * Verifies an assertion against the stored passkey it names and a challenge this server issued for a
   * sign-in, and records the use (the signature counter); refused (`passkey_refused`) otherwise.
   */
  const assert = async (response: AuthenticationResponseJSON, owner?: string) => {
    const passkey =
      typeof response?.id === "string" ? await repository.byCredentialId(response.id) : undefined;
    if (!passkey || (owner !== undefined && passkey.userId !== owner)) throw refused();
    let issuedTo: string | undefined;
    const verification = await (await webauthn())
      .verifyAuthenticationResponse({
        response,
        expectedChallenge: async (challenge) => {
          const state = await challenges.take(challenge);
          issuedTo = state?.userId;
          return (
            state?.purpose === "login" && (state.userId === undefined || state.userId === passkey.userId)
          );
        },
        expectedOrigin: rp.origins,
        expectedRPID: rp.id,
        credential: {
          id: passkey.credentialId,
          publicKey: Buffer.from(passkey.publicKey, "base64url"),
          counter: passkey.counter,
          transports: passkey.transports as AuthenticatorTransportFuture[],
        },
        requireUserVerification: false,
      })
      .catch((err: unknown) => {
        // A counter that did not move forward: a copy of the authenticator is signing.
        if (err instanceof Error && /counter/i.test(err.message)) {
          logger.warn(
            { userId: passkey.userId },
            "passkey refused: its signature counter went backwards (a cloned authenticator?)",
          );
        }
        return undefined;
      });
    if (!verification?.verified) throw refused();
    const info = verification.authenticationInfo;
    if (
      !(await repository.recordUse(passkey.id, passkey.counter, info.newCounter, info.credentialBackedUp))
    ) {
      throw refused();
    }
    return { passkey, issuedTo, userVerified: info.userVerified };
  };

  return {
    async registrationOptions(session) {
      requireConfigured();
      stepUp.requireRecentAuthentication(session);
      const user = requireUser(session);
      const existing = await repository.listFor(user.id);
      const options = await (await webauthn()).generateRegistrationOptions({
        rpName: rp.name,
        rpID: rp.id,
        userName: user.email,
        userID: new TextEncoder().encode(user.id),
        timeout,
        attestationType: "none",
        excludeCredentials: existing.map((p) => ({
          id: p.credentialId,
          transports: p.transports as AuthenticatorTransportFuture[],
        })),
        // Discoverable, so it can sign in without an email; verified with the person's PIN or biometrics
        // where the authenticator can.
        authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
      });
      await challenges.put(options.challenge, { purpose: "register", userId: user.id });
      return options;
    },

    async register(session, response, name) {
      stepUp.requireRecentAuthentication(session);
      const user = requireUser(session);
      const verification = await (await webauthn())
        .verifyRegistrationResponse({
          response,
          expectedChallenge: async (challenge) => {
            const state = await challenges.take(challenge);
            return state?.purpose === "register" && state.userId === user.id;
          },
          expectedOrigin: rp.origins,
          expectedRPID: rp.id,
          requireUserVerification: false,
        })
        .catch(() => undefined);
      if (!verification?.verified) throw refused();
      const info = verification.registrationInfo;
      if (await repository.byCredentialId(info.credential.id)) throw refused();
      const record = await repository.add({
        userId: user.id,
        credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString("base64url"),
        counter: info.credential.counter,
        transports: info.credential.transports ?? [],
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        name,
      });
      events.record("passkey_added", { userId: user.id });
      deps.mail?.queueQuietly({ kind: "second-factor-changed", userId: user.id, change: "passkey-added" });
      logger.info({ userId: user.id }, "passkey added");
      return view(record);
    },

    async list(session) {
      const user = requireUser(session);
      return (await repository.listFor(user.id)).map(view);
    },

    async rename(session, id, name) {
      const user = requireUser(session);
      if (!(await repository.rename(user.id, id, name)))
        throw new HttpError("not_found", { message: "No such passkey" });
    },

    async remove(session, id) {
      stepUp.requireRecentAuthentication(session);
      const user = requireUser(session);
      if (!(await repository.remove(user.id, id)))
        throw new HttpError("not_found", { message: "No such passkey" });
      events.record("passkey_removed", { userId: user.id });
      deps.mail?.queueQuietly({ kind: "second-factor-changed", userId: user.id, change: "passkey-removed" });
      logger.info({ userId: user.id }, "passkey removed");
    },

    async loginOptions(context) {
      requireConfigured();
      const pending = pendingOf(context);
      const mine = pending ? await repository.listFor(pending.userId) : [];
      const options = await (await webauthn()).generateAuthenticationOptions({
        rpID: rp.id,
        timeout,
        userVerification: "preferred",
        allowCredentials: mine.map((p) => ({
          id: p.credentialId,
          transports: p.transports as AuthenticatorTransportFuture[],
        })),
      });
      await challenges.put(options.challenge, { purpose: "login", userId: pending?.userId });
      return options;
    },

    async login(response, context) {
      const { passkey, issuedTo, userVerified } = await assert(response);
      const record = await users.findById(passkey.userId);
      if (!record) throw refused();
      // The assertion proved the passkey's owner: the same answer as their right password would get.
      if (record.disabledAt) {
        events.record("login_refused_disabled", { userId: record.id });
        throw new HttpError("account_disabled");
      }
      const pending = pendingOf(context);
      if (pending && pending.userId === passkey.userId && record.credentialEpoch === pending.epoch) {
        context.session.pendingSignIn?.set(undefined);
        const amr = [...new Set<AuthMethod>([...pending.amr, "hwk"])] as [AuthMethod, ...AuthMethod[]];
        const provider = pending.provider ? { provider: pending.provider } : {};
        return { user: await signIn.signIn(record, context, { amr, ...provider }) };
      }
      // A challenge issued for someone's second step cannot sign in anybody else.
      if (issuedTo !== undefined && issuedTo !== passkey.userId) throw refused();
      const amr: [AuthMethod, ...AuthMethod[]] = userVerified ? ["hwk", "user"] : ["hwk"];
      return beginSignIn.beginSignIn(record, context, { amr });
    },

    async verifyFactor(userId, response) {
      // Only a passkey of this very user, for a challenge issued to nobody in particular or to this user.
      const checked = await assert(response, userId).catch((err: unknown) => {
        if (err instanceof HttpError && err.code === "passkey_refused") return undefined;
        throw err;
      });
      return checked !== undefined;
    },

    countFor: (userId) => repository.countFor(userId),
  };
}
