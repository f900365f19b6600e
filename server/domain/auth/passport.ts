import type { RequestHandler } from "express";
import { Passport } from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import { normalizeEmail } from "../../../shared/validation.js";
import type { PasswordHasher } from "./password.js";
import { type SessionUserSource, sessionUser } from "./session-user.js";
import type { UserRepository } from "./user-repository.js";

export interface UserLookup {
  /** The user behind a session, or undefined if it no longer exists. */
  findById(id: string): Promise<SessionUserSource | undefined>;
}

/** The user with this email and password, or false: unknown, wrong password or disabled alike. */
export type CredentialCheck = (email: string, password: string) => Promise<Express.User | false>;

export function createCredentialCheck(deps: {
  users: UserRepository;
  hasher: PasswordHasher;
}): CredentialCheck {
  const { users, hasher } = deps;
  return async (email, password) => {
    const user = await users.findByEmail(normalizeEmail(email));
    // Unknown emails cost a full hash too, so timing does not reveal which accounts exist.
    const ok = user ? await hasher.verify(password, user.passwordHash) : await hasher.verifyDummy(password);
    if (!user || !ok || user.disabledAt) return false;
    return sessionUser(user);
  };
}

/**
 * A private Passport instance: sessions hold only the user id. Its local strategy (email + password) runs
 * the same check as the account service, for routes that want `passport.authenticate("local")`.
 */
export function createPassport(deps: { users: UserRepository; hasher: PasswordHasher; lookup: UserLookup }) {
  const { lookup } = deps;
  const checkCredentials = createCredentialCheck(deps);
  const passport = new Passport();

  passport.use(
    new LocalStrategy(
      { usernameField: "email", passwordField: "password", session: true },
      (email, password, done) => {
        checkCredentials(email, password).then((user) => done(null, user), done);
      },
    ),
  );

  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id: string, done) => {
    lookup.findById(id).then((user) => done(null, user ? sessionUser(user) : false), done);
  });
  return passport;
}

type AppPassport = ReturnType<typeof createPassport>;

/**
 * Sets passport's request methods (`req.logIn`, `req.logOut`, `req.isAuthenticated`, ...) once on the
 * app's request prototype (`app.request`), where `passport.initialize()` stores them on every request.
 * The methods are the ones `initialize()` itself installs, taken from one call on a blank object.
 */
export function installPassportRequest(request: object, passport: AppPassport): void {
  const methods: Record<string, unknown> = {};
  passport.initialize({ compat: false })(methods as never, undefined as never, () => undefined);
  Object.assign(request, methods);
}

/**
 * `req.user` from the session, as `passport.session()` sets it (the user id through passport's
 * deserializers; an id whose user is gone is dropped from the session), without the per-request
 * strategy object and property stores of `passport.authenticate("session")`. Needs
 * `installPassportRequest` on the app's request prototype for `req.logIn` and the others.
 */
export function restoreSessionUser(passport: AppPassport): RequestHandler {
  return (req, _res, next) => {
    if (!req.session) return next(new Error("restoreSessionUser needs express-session in front of it"));
    const login = req.session.passport;
    const id: unknown = login?.user;
    if (!login || (!id && id !== 0)) return next();
    passport.deserializeUser(id as NonNullable<unknown>, req, (err, user) => {
      if (err) return next(err);
      if (user) req.user = user;
      else delete login.user;
      next();
    });
  };
}
