import { type Request, type Response, Router } from "express";
import type { createPassport } from "./passport.js";

type Authenticator = ReturnType<typeof createPassport>;

import {
  emailProblem,
  normalizeEmail,
  PASSWORD_MAX_LENGTH,
  passwordProblem,
} from "../../shared/validation.js";
import type { Config } from "../config/config.js";
import { jsonBody } from "../http/body.js";
import { badRequest, invalidCredentials, unauthenticated } from "../http/errors.js";
import type { Logger } from "../logging/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import type { ProductRateLimits } from "../ratelimit/policies.js";
import type { PasswordHasher } from "./password.js";
import { toPublicUser, type UserRepository } from "./user-repository.js";

const USER_AGENT_MAX = 256; // characters kept in the session

export interface Credentials {
  email: string;
  password: string;
}

/** Checks `{email, password}`; `strict` applies the registration rules to the password. */
export function readCredentials(body: unknown, strict: boolean): Credentials {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest("The body must be a JSON object with email and password", { field: "body" });
  }
  const { email, password } = body as Record<string, unknown>;
  const emailIssue = emailProblem(email);
  if (emailIssue) throw badRequest(emailIssue, { field: "email" });
  const passwordIssue = strict
    ? passwordProblem(password)
    : typeof password !== "string" || password.length === 0
      ? "password is required"
      : password.length > PASSWORD_MAX_LENGTH
        ? `password must be at most ${PASSWORD_MAX_LENGTH} characters`
        : undefined;
  if (passwordIssue) throw badRequest(passwordIssue, { field: "password" });
  return { email: normalizeEmail(email as string), password: password as string };
}

/** Regenerates the session id (fixation) and records login metadata for the absolute timeout. */
export function logIn(req: Request, user: Express.User): Promise<void> {
  return new Promise((resolve, reject) => {
    req.logIn(user, (err) => {
      if (err) return reject(err);
      req.session.auth = {
        loginAt: Date.now(),
        ip: req.ip ?? "",
        userAgent: (req.get("user-agent") ?? "").slice(0, USER_AGENT_MAX),
      };
      resolve();
    });
  });
}

export function authenticate(
  passport: Authenticator,
  req: Request,
  res: Response,
): Promise<Express.User | false> {
  return new Promise((resolve, reject) => {
    passport.authenticate("local", { session: false }, (err: unknown, user: Express.User | false) =>
      err ? reject(err) : resolve(user),
    )(req, res, () => undefined);
  });
}

export function destroySession(req: Request, res: Response, config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    const clear = () =>
      res.clearCookie(config.session.cookieName, {
        path: "/",
        httpOnly: true,
        secure: config.session.cookieSecure,
        sameSite: config.session.sameSite,
      });
    if (!req.session) {
      clear();
      return resolve();
    }
    req.session.destroy((err) => {
      if (err) return reject(err);
      clear();
      resolve();
    });
  });
}

/** `/auth/register`, `/auth/login`, `/auth/logout`, `/auth/me`. */
export function createAuthRouter(deps: {
  config: Config;
  passport: Authenticator;
  users: UserRepository;
  hasher: PasswordHasher;
  logger: Logger;
  limits: Pick<ProductRateLimits, "login" | "loginAccount">;
  metrics?: Pick<Metrics, "loginsTotal" | "loginFailuresTotal" | "logoutsTotal">;
}): Router {
  const { config, passport, users, hasher, logger, limits, metrics } = deps;
  const router = Router();
  let warnedInsecure = false;

  const warnIfCookieDropped = (req: Request) => {
    if (config.session.cookieSecure && !req.secure && !warnedInsecure) {
      warnedInsecure = true;
      logger.warn(
        "login over plain HTTP with COOKIE_SECURE=true: the browser gets no session cookie; behind a proxy set TRUST_PROXY to its hop count",
      );
    }
  };

  router.post("/register", limits.login, jsonBody(), async (req, res) => {
    const { email, password } = readCredentials(req.body, true);
    const record = await users.create(email, await hasher.hash(password));
    const user = { id: record.id, email: record.email, createdAt: record.createdAt };
    await logIn(req, user);
    metrics?.loginsTotal.inc();
    warnIfCookieDropped(req);
    logger.info({ userId: user.id }, "user registered");
    res.status(201).json({ user: toPublicUser(user) });
  });

  router.post("/login", limits.login, jsonBody(), async (req, res) => {
    const { email } = readCredentials(req.body, false);
    // The attempt is counted before the password is checked: a locked account spends no hash and confirms
    // nothing, and concurrent guesses cannot slip past the limit between a check and a record.
    await limits.loginAccount.enforce(email, res);
    const user = await authenticate(passport, req, res);
    if (!user) {
      metrics?.loginFailuresTotal.inc();
      throw invalidCredentials();
    }
    await limits.loginAccount.clear(email);
    await logIn(req, user);
    metrics?.loginsTotal.inc();
    warnIfCookieDropped(req);
    logger.info({ userId: user.id }, "user logged in");
    res.json({ user: toPublicUser(user) });
  });

  router.post("/logout", async (req, res) => {
    const userId = req.user?.id;
    await destroySession(req, res, config);
    if (userId) {
      metrics?.logoutsTotal.inc();
      logger.info({ userId }, "user logged out");
    }
    res.status(204).end();
  });

  router.get("/me", (req, res) => {
    if (!req.user) throw unauthenticated();
    res.json({ user: toPublicUser(req.user) });
  });

  return router;
}
