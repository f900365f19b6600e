import { randomUUID } from "node:crypto";
import type { SessionData } from "express-session";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../../server/config/config.js";
import type { AccountContext, SessionPort } from "../../../server/domain/auth/account-context.js";
import { type AccountService, createAccountService } from "../../../server/domain/auth/account-service.js";
import { createDeviceCookies } from "../../../server/domain/auth/device-cookie.js";
import { createPasswordHasher } from "../../../server/domain/auth/password.js";
import { type SessionAuth, sessionAmr, sessionAuthAt } from "../../../server/domain/auth/session-auth.js";
import { createSignIn, type SignIn } from "../../../server/domain/auth/sign-in.js";
import { createUserRepository, type UserRepository } from "../../../server/domain/auth/user-repository.js";
import { MemoryRateLimitStore } from "../../../server/domain/ratelimit/memory-store.js";
import { createProductRateLimits } from "../../../server/domain/ratelimit/policies.js";
import { NO_SECURITY_EVENTS } from "../../../server/domain/security/events.js";
import { BoundedMemoryStore } from "../../../server/domain/session/memory-store.js";
import { createSessionIndex } from "../../../server/domain/session/session.js";
import { publicSessionId } from "../../../server/domain/session/session-index.js";
import { createUserSessions } from "../../../server/domain/session/user-sessions.js";
import { HttpError } from "../../../server/lib/errors.js";
import { registrationSchema } from "../../../shared/validation.js";
import { testEnv } from "../../helpers/app.js";
import { testDatabase } from "../../helpers/fixtures.js";
import { silentLogger } from "../../helpers/logger.js";
import { uniqueEmail } from "../../helpers/session.js";

const PASSWORD = "correct horse battery";
const store = new BoundedMemoryStore({ max: 1000, ttlSeconds: 3600 });
const config = loadConfig(testEnv());
const logger = silentLogger();
let accounts: AccountService;
let users: UserRepository;
let signIn: SignIn;

beforeAll(async () => {
  // No Express anywhere: the service gets plain values and a session port.
  const { db } = await testDatabase();
  users = createUserRepository(db);
  const sessions = createUserSessions({
    store,
    index: createSessionIndex({ config, store }),
    publicId: publicSessionId,
    logger,
  });
  signIn = createSignIn({
    config,
    sessions,
    logger,
    devices: createDeviceCookies({ secrets: config.session.secrets, ttlSeconds: 3600 }),
    limits: {},
    events: NO_SECURITY_EVENTS,
  });
  accounts = createAccountService({
    config,
    users,
    hasher: createPasswordHasher({ logN: 10, concurrency: 2 }),
    sessions,
    logger,
    limits: createProductRateLimits({ config, logger, store: new MemoryRateLimitStore({ maxKeys: 1000 }) }),
    signIn,
  });
});

/** A browser session kept in the session store, as express-session would keep it. */
function plainSession(): SessionPort & { auth?: SessionAuth; destroyed: boolean } {
  const port = {
    id: randomUUID(),
    user: undefined as Express.User | undefined,
    auth: undefined as SessionAuth | undefined,
    destroyed: false,
    async logIn(user: Express.User, auth: SessionAuth) {
      store.destroy(port.id);
      port.id = randomUUID();
      port.user = user;
      port.auth = auth;
      store.set(port.id, { cookie: {}, auth } as unknown as SessionData);
    },
    reauthenticated(amr: SessionAuth["amr"]) {
      if (!port.auth) return;
      port.auth = { ...port.auth, authAt: Date.now(), amr: [...new Set([...port.auth.amr, ...amr])] };
    },
    async destroy() {
      store.destroy(port.id);
      port.user = undefined;
      port.destroyed = true;
    },
  };
  return port;
}

function context(session = plainSession()): AccountContext & { refunds: number } {
  const ctx = {
    session,
    client: { ip: "203.0.113.7", userAgent: "plain-test/1.0", secure: false },
    refunds: 0,
    refundAddress: async () => {
      ctx.refunds++;
    },
    enforceAddress: async () => undefined,
  };
  return ctx;
}

async function caught(promise: Promise<unknown>): Promise<HttpError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpError);
  return err as HttpError;
}

describe("the account service, on plain values", () => {
  it("registers and logs in on a new session id, recording the client it was given", async () => {
    const email = uniqueEmail("plain");
    const ctx = context();
    const before = ctx.session.id;
    const user = await accounts.register(
      registrationSchema.parse({ email: ` ${email.toUpperCase()} `, password: PASSWORD }),
      ctx,
    );
    expect(user?.email).toBe(email);
    expect(ctx.session.id).not.toBe(before);
    expect(ctx.session.user?.id).toBe(user?.id);
    const sessions = await accounts.listSessions(ctx.session);
    expect(sessions).toEqual([
      expect.objectContaining({ current: true, ip: "203.0.113.7", userAgent: "plain-test/1.0" }),
    ]);

    const other = context();
    await accounts.login({ email, password: PASSWORD }, other);
    expect(await accounts.listSessions(other.session)).toHaveLength(2);
    expect(await accounts.revokeOtherSessions(other.session)).toBe(1);
  });

  it("answers with catalog errors: wrong credentials, a locked account with its wait, a wrong current password", async () => {
    const email = uniqueEmail("plain");
    const ctx = context();
    await accounts.register({ email, password: PASSWORD }, ctx);

    const wrong = await caught(accounts.login({ email, password: "not the password" }, context()));
    expect(wrong).toMatchObject({ code: "invalid_credentials", status: 401 });
    for (let i = 0; i < 4; i++) await caught(accounts.login({ email, password: `guess ${i}` }, context()));
    const locked = await caught(accounts.login({ email, password: PASSWORD }, context()));
    expect(locked).toMatchObject({ code: "rate_limited", status: 429 });
    expect(locked.retryAfter).toBeGreaterThan(0);
    expect(locked.details?.retryAfter).toBe(locked.retryAfter);

    // A wrong current password counts like a failed login: refused while the account is locked.
    const lockedChange = await caught(
      accounts.changePassword({ currentPassword: "not it at all", newPassword: "another password" }, ctx),
    );
    expect(lockedChange).toMatchObject({ code: "rate_limited", status: 429 });

    const fresh = context();
    await accounts.register({ email: uniqueEmail("plain"), password: PASSWORD }, fresh);
    const change = await caught(
      accounts.changePassword({ currentPassword: "not it at all", newPassword: "another password" }, fresh),
    );
    expect(change).toMatchObject({
      code: "wrong_password",
      status: 403,
      details: { field: "currentPassword" },
    });
    expect(await caught(accounts.listSessions(plainSession()))).toMatchObject({ code: "unauthenticated" });
  });

  it("logs out by destroying the session it was handed, refunding nothing", async () => {
    const session = plainSession();
    const ctx = context(session);
    await accounts.register({ email: uniqueEmail("plain"), password: PASSWORD }, ctx);
    await accounts.logout(session);
    expect(session.destroyed).toBe(true);
    expect(ctx.refunds).toBe(0);
  });
});

describe("the sign-in every way in ends with", () => {
  afterEach(() => vi.useRealTimers());

  it("records how and when the person authenticated: a password at registration and at login", async () => {
    const email = uniqueEmail("amr");
    const registered = context();
    await accounts.register({ email, password: PASSWORD }, registered);
    expect(registered.session.auth).toMatchObject({ amr: ["pwd"], authAt: registered.session.auth?.loginAt });
    const loggedIn = context();
    await accounts.login({ email, password: PASSWORD }, loggedIn);
    expect(loggedIn.session.auth).toMatchObject({ amr: ["pwd"], authAt: loggedIn.session.auth?.loginAt });
  });

  it("records another way in as given, and a password change keeps its methods with a new time", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-12-08T10:00:00Z") });
    const email = uniqueEmail("amr");
    await accounts.register({ email, password: PASSWORD }, context());
    const ctx = context();
    const user = await signIn.signIn((await users.findByEmail(email))!, ctx, { amr: ["pwd", "otp"] });
    expect(ctx.session.user?.id).toBe(user.id);
    const first = ctx.session.auth!;
    expect(first).toMatchObject({ amr: ["pwd", "otp"], authAt: Date.parse("2026-12-08T10:00:00Z") });
    expect(await accounts.listSessions(ctx.session)).toHaveLength(2);

    vi.setSystemTime(new Date("2026-12-08T10:05:00Z"));
    await accounts.changePassword({ currentPassword: PASSWORD, newPassword: "another password" }, ctx);
    expect(ctx.session.auth).toMatchObject({
      amr: ["pwd", "otp"],
      authAt: Date.parse("2026-12-08T10:05:00Z"),
      epoch: (first.epoch ?? 0) + 1,
    });
  });

  it("gives a session stored without amr a password session when the password changes", async () => {
    const ctx = context();
    await accounts.register({ email: uniqueEmail("amr"), password: PASSWORD }, ctx);
    const { amr: _amr, authAt: _authAt, ...older } = ctx.session.auth!;
    (ctx.session as { auth?: unknown }).auth = older;
    // Read as a password session, authenticated when it began.
    expect(sessionAmr(older)).toEqual(["pwd"]);
    expect(sessionAuthAt(older)).toBe(older.loginAt);
    await accounts.changePassword({ currentPassword: PASSWORD, newPassword: "another password" }, ctx);
    expect(ctx.session.auth?.amr).toEqual(["pwd"]);
  });

  it("refuses a disabled account whatever verified the person, and starts no session", async () => {
    const email = uniqueEmail("amr");
    await accounts.register({ email, password: PASSWORD }, context());
    const record = (await users.findByEmail(email))!;
    await users.setDisabled(record.id, true);
    const ctx = context();
    const before = ctx.session.id;
    const refused = await caught(signIn.signIn((await users.findByEmail(email))!, ctx, { amr: ["fed"] }));
    expect(refused).toMatchObject({ code: "invalid_credentials" });
    expect(ctx.session.id).toBe(before);
    expect(ctx.session.user).toBeUndefined();
  });
});

describe("step-up: a sensitive action needs a recent authentication", () => {
  const maxAgeMs = config.session.reauthMaxAgeSeconds * 1000;

  afterEach(() => vi.useRealTimers());

  it("lets a fresh sign-in through, refuses it once REAUTH_MAX_AGE_SECONDS have passed, and nobody at all", async () => {
    const ctx = context();
    await accounts.register(
      registrationSchema.parse({ email: uniqueEmail("sudo"), password: PASSWORD }),
      ctx,
    );
    expect(() => accounts.requireRecentAuthentication(ctx.session)).not.toThrow();
    vi.useFakeTimers({ now: Date.now() + maxAgeMs + 1000, toFake: ["Date"] });
    const stale = (() => {
      try {
        accounts.requireRecentAuthentication(ctx.session);
      } catch (err) {
        return err as HttpError;
      }
    })();
    expect(stale).toBeInstanceOf(HttpError);
    expect(stale?.code).toBe("reauthentication_required");
    expect(stale?.status).toBe(403);
    expect(stale?.details).toEqual({ maxAgeSeconds: config.session.reauthMaxAgeSeconds });
    expect(() => accounts.requireRecentAuthentication(plainSession())).toThrow(
      expect.objectContaining({ code: "unauthenticated" }),
    );
  });

  it("the password again makes the same session recent (same id, pwd in amr); a wrong one changes nothing", async () => {
    const session = plainSession();
    const ctx = context(session);
    const email = uniqueEmail("sudo");
    await accounts.register(registrationSchema.parse({ email, password: PASSWORD }), ctx);
    const { id } = session;
    session.auth = { ...(session.auth as SessionAuth), amr: ["hwk", "user"] };
    vi.useFakeTimers({ now: Date.now() + maxAgeMs + 1000, toFake: ["Date"] });
    const before = sessionAuthAt(ctx.session.auth as SessionAuth);

    const wrong = await caught(accounts.reauthenticate({ password: "not the password" }, ctx));
    expect(wrong.code).toBe("wrong_password");
    expect(sessionAuthAt(ctx.session.auth as SessionAuth)).toBe(before);
    expect(() => accounts.requireRecentAuthentication(ctx.session)).toThrow(
      expect.objectContaining({ code: "reauthentication_required" }),
    );

    await accounts.reauthenticate({ password: PASSWORD }, ctx);
    expect(ctx.session.id).toBe(id);
    expect(sessionAuthAt(ctx.session.auth as SessionAuth)).toBe(Date.now());
    expect(sessionAmr(ctx.session.auth as SessionAuth)).toEqual(["hwk", "user", "pwd"]);
    expect(() => accounts.requireRecentAuthentication(ctx.session)).not.toThrow();
  });

  it("counts wrong passwords against the lockout, like a login", async () => {
    const ctx = context();
    await accounts.register(
      registrationSchema.parse({ email: uniqueEmail("sudo"), password: PASSWORD }),
      ctx,
    );
    const limit = config.rateLimit.loginAccount.limit;
    for (let i = 0; i < limit; i++) {
      expect((await caught(accounts.reauthenticate({ password: `wrong ${i}` }, ctx))).code).toBe(
        "wrong_password",
      );
    }
    const locked = await caught(accounts.reauthenticate({ password: PASSWORD }, ctx));
    expect(locked.status).toBe(429);
  });
});
