import type { ErrorCode } from "../../lib/error-catalog.js";
import type { UserRecord } from "../auth/user-repository.js";
import type { Flow } from "./flow-store.js";

export type LinkDecision =
  | { action: "refuse"; code: ErrorCode }
  /** The identity is the user's way in already. */
  | { action: "sign_in" }
  /** The signed-in owner asked to link it. */
  | { action: "link_to_owner"; userId: string }
  /** A trusted provider vouches for the verified address of an account with a verified address. */
  | { action: "link_trusted" }
  | { action: "create"; email: string };

/**
 * Who a provider's account belongs to. An identity is (provider, subject), never an email: an address
 * alone links nothing, because whoever controls it at a provider (or registered it there unverified) is not
 * thereby the account's owner. In order:
 * 1. a link the signed-in owner started links it to them (refused if another account has it);
 * 2. a known identity signs its user in;
 * 3. an address the provider does not say it verified neither creates nor links an account;
 * 4. a verified address no account has creates one (verified);
 * 5. a verified address an account has links only for a provider in OIDC_TRUSTED_FOR_LINKING, and only
 *    when that account's own address is verified (an unverified one may be an attacker's pre-registration);
 *    otherwise the owner signs in another way and links from the account page.
 */
export function linkDecision(input: {
  flow: Pick<Flow, "linkUserId">;
  signedInUserId: string | undefined;
  /** The user the identity belongs to, if any. */
  known: string | undefined;
  /** The provider's address in canonical form; undefined when it gave none or none that is usable. */
  email: string | undefined;
  emailVerified: boolean;
  /** The account that has `email`, if any. */
  holder: Pick<UserRecord, "id" | "emailVerifiedAt"> | undefined;
  trusted: boolean;
}): LinkDecision {
  const { flow, signedInUserId, known, email, holder } = input;
  if (flow.linkUserId !== undefined) {
    // The session that started the link must be the one finishing it (not signed out or switched since).
    if (signedInUserId !== flow.linkUserId) return { action: "refuse", code: "oauth_state_mismatch" };
    if (known !== undefined) return { action: "refuse", code: "identity_taken" };
    return { action: "link_to_owner", userId: flow.linkUserId };
  }
  if (known !== undefined) return { action: "sign_in" };
  if (!email || !input.emailVerified) return { action: "refuse", code: "oauth_email_unverified" };
  if (!holder) return { action: "create", email };
  if (input.trusted && holder.emailVerifiedAt) return { action: "link_trusted" };
  return { action: "refuse", code: "oauth_link_required" };
}
