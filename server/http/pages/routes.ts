import { Router } from "express";
import type { Config } from "../../config/config.js";
import type { AccountDeletion } from "../../domain/auth/account-deletion.js";
import type { AccountRecovery } from "../../domain/auth/account-recovery.js";
import type { AccountService } from "../../domain/auth/account-service.js";
import type { EmailChange } from "../../domain/auth/email-change.js";
import type { PersonalTokens } from "../../domain/auth/personal-tokens.js";
import type { Passkeys } from "../../domain/mfa/passkeys.js";
import type { SecondFactors } from "../../domain/mfa/second-factors.js";
import type { ProviderSignIn } from "../../domain/oidc/provider-sign-in.js";
import type { ProductRateLimits } from "../../domain/ratelimit/policies.js";
import type { SecurityEvents } from "../../domain/security/events.js";
import { createAccountPages } from "./account-pages.js";
import { createConfirmPages } from "./confirm-pages.js";
import { formErrors, type ReturnTo } from "./form-errors.js";
import { createLeavePages } from "./leave-pages.js";
import { createMfaPages } from "./mfa-pages.js";
import { createRecoveryPages } from "./recovery-pages.js";
import { createSignInPages } from "./sign-in-pages.js";
import { createTotpPages } from "./totp-pages.js";

/**
 * The browser pages: `/`, `/login`, `/register` (sign-in-pages.ts), `/account` (account-pages.ts,
 * confirm-pages.ts "confirm it is you", leave-pages.ts "delete my account"), the
 * recovery and email-change pages behind mailed links (recovery-pages.ts), and the forms they post (URL-encoded, answered
 * with a 303 redirect on success). They call the same account service as the JSON API.
 */
export function createPagesRouter(deps: {
  config: Config;
  accounts: AccountService;
  recovery: AccountRecovery;
  emailChange: EmailChange;
  limits: Pick<ProductRateLimits, "login" | "signIn" | "recovery">;
  /** Where `next` may send the browser after login (undefined: nowhere, go to /account). */
  returnTo?: ReturnTo;
  events?: Pick<SecurityEvents, "recent">;
  deletion: AccountDeletion;
  personalTokens: PersonalTokens;
  /** Absent with MFA=off: no second step. */
  secondFactors?: SecondFactors;
  passkeys?: Passkeys;
  oauth?: Pick<ProviderSignIn, "providers" | "linked" | "unlink">;
}): Router {
  const returnTo = deps.returnTo ?? (() => undefined);
  const router = Router();
  router.use(createSignInPages({ ...deps, returnTo }));
  if (deps.secondFactors) {
    router.use(createMfaPages({ ...deps, secondFactors: deps.secondFactors, returnTo }));
    router.use(createTotpPages({ ...deps, secondFactors: deps.secondFactors }));
  }
  router.use(createAccountPages(deps));
  router.use(createConfirmPages(deps));
  router.use(createLeavePages(deps));
  router.use(createRecoveryPages(deps));
  router.use(["/login", "/register", "/password/forgot"], formErrors(returnTo));
  return router;
}
