import { Passport } from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import { normalizeEmail } from "../../shared/validation.js";
import type { PasswordHasher } from "./password.js";
import type { UserRecord, UserRepository } from "./user-repository.js";

declare global {
  namespace Express {
    interface User {
      id: string;
      email: string;
      createdAt: Date;
    }
  }
}

export interface UserLookup {
  /** The user behind a session, or undefined if it no longer exists. */
  findById(id: string): Promise<Pick<UserRecord, "id" | "email" | "createdAt"> | undefined>;
}

/** A private Passport instance: local strategy on email + password, sessions hold only the user id. */
export function createPassport(deps: { users: UserRepository; hasher: PasswordHasher; lookup: UserLookup }) {
  const { users, hasher, lookup } = deps;
  const passport = new Passport();

  passport.use(
    new LocalStrategy(
      { usernameField: "email", passwordField: "password", session: true },
      (email, password, done) => {
        (async () => {
          const user = await users.findByEmail(normalizeEmail(email));
          // Unknown emails cost a full hash too, so timing does not reveal which accounts exist.
          const ok = user
            ? await hasher.verify(password, user.passwordHash)
            : await hasher.verifyDummy(password);
          if (!user || !ok || user.disabledAt) return done(null, false);
          return done(null, { id: user.id, email: user.email, createdAt: user.createdAt });
        })().catch(done);
      },
    ),
  );

  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id: string, done) => {
    lookup
      .findById(id)
      .then(
        (user) => done(null, user ? { id: user.id, email: user.email, createdAt: user.createdAt } : false),
        done,
      );
  });
  return passport;
}
