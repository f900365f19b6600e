import type { Config } from "../../config/config.js";
import type { Database } from "../../infra/db/database.js";
import type { Logger } from "../../infra/logging/logger.js";
import type { Mail, MailComposer, MailJob, SecondFactorChange } from "../../infra/mail/types.js";
import { html, type SafeHtml } from "../../lib/html.js";
import { type AccountTokens, createAccountTokens } from "../auth/account-tokens.js";
import { createUserRepository, type UserRecord, type UserRepository } from "../auth/user-repository.js";

/** "30 minutes", "24 hours": how long a link works, in the mail's words. */
export function describeDuration(seconds: number): string {
  if (seconds % 86_400 === 0 && seconds >= 86_400) return plural(seconds / 86_400, "day");
  if (seconds % 3600 === 0 && seconds >= 3600) return plural(seconds / 3600, "hour");
  return plural(Math.max(1, Math.round(seconds / 60)), "minute");
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;

/** One mail in both forms: the plain text every client shows and escaped HTML with the same words. */
interface Body {
  subject: string;
  paragraphs: string[];
  /** The one link the mail is about, with the words of its button. */
  link?: { url: string; label: string };
  after?: string[];
}

function render(to: string, body: Body): Mail {
  const text = [
    ...body.paragraphs,
    ...(body.link ? [`${body.link.label}:\n${body.link.url}`] : []),
    ...(body.after ?? []),
  ].join("\n\n");
  const p = (line: string): SafeHtml => html`<p style="white-space: pre-line">${line}</p>`;
  const markup = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${body.subject}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; max-width: 36em">
${body.paragraphs.map(p)}
${body.link ? html`<p><a href="${body.link.url}">${body.link.label}</a></p><p style="word-break: break-all; color: #555">${body.link.url}</p>` : ""}
${(body.after ?? []).map(p)}
</body></html>`;
  return { to, subject: body.subject, text: `${text}\n`, html: markup.value };
}

/** The notice for each change to a second factor: its subject and what happened. */
const FACTOR_CHANGES: Record<SecondFactorChange, { subject: string; what: string }> = {
  "totp-added": {
    subject: "An authenticator app was added",
    what: "An authenticator app (TOTP) was turned on",
  },
  "totp-removed": {
    subject: "Your authenticator app was removed",
    what: "The authenticator app (TOTP) and its recovery codes were turned off",
  },
  "passkey-added": { subject: "A passkey was added", what: "A passkey was added" },
  "passkey-removed": { subject: "A passkey was removed", what: "A passkey was removed" },
  "recovery-code-used": { subject: "A recovery code was used", what: "A recovery code was used to sign in" },
  "recovery-codes-regenerated": {
    subject: "New recovery codes were made",
    what: "New recovery codes were made (the old ones no longer work)",
  },
};

/**
 * Renders each mail job into a message, looking up what it needs in the database (the web process and
 * `server/worker.ts` build it alike). Links carry single-use tokens created here, when the job runs, so
 * none ever sits in the queue. Undefined when there is nothing to send (no such account, disabled, done).
 */
export function createMailComposer(deps: {
  config: Config;
  db: Database;
  logger: Logger;
  /** Defaults to the database's. */
  users?: Pick<UserRepository, "findByEmail" | "findById">;
  tokens?: AccountTokens;
}): MailComposer {
  const { config } = deps;
  const users = deps.users ?? createUserRepository(deps.db);
  const tokens = deps.tokens ?? createAccountTokens(deps.db);
  const origin = config.mail.publicUrl;
  const active = (user: UserRecord | undefined) => (user && !user.disabledAt ? user : undefined);

  const resetMail = async (user: UserRecord): Promise<Mail> => {
    const ttl = config.mail.passwordResetTtlSeconds;
    const token = await tokens.issue(
      user.id,
      "password_reset",
      { credentialEpoch: user.credentialEpoch },
      ttl,
    );
    return render(user.email, {
      subject: "Reset your password",
      paragraphs: [
        `Someone, hopefully you, asked to reset the password of the account ${user.email}.`,
        `The link below works once, for ${describeDuration(ttl)}. Choosing a new password signs the account out everywhere.`,
      ],
      link: { url: `${origin}/password/reset?token=${token}`, label: "Choose a new password" },
      after: ["If you did not ask for this, ignore this mail: your password stays as it is."],
    });
  };

  const verificationMail = async (user: UserRecord): Promise<Mail> => {
    const ttl = config.mail.emailVerificationTtlSeconds;
    const token = await tokens.issue(user.id, "email_verification", { email: user.email }, ttl);
    return render(user.email, {
      subject: "Confirm your email address",
      paragraphs: [
        `Please confirm that ${user.email} is your address. The link below works once, for ${describeDuration(ttl)}.`,
      ],
      link: { url: `${origin}/email/verify?token=${token}`, label: "Confirm my address" },
      after: ["If you did not create an account, ignore this mail."],
    });
  };

  const emailChangeMail = async (user: UserRecord, email: string): Promise<Mail> => {
    const ttl = config.mail.emailVerificationTtlSeconds;
    const token = await tokens.issue(
      user.id,
      "email_change",
      { email, credentialEpoch: user.credentialEpoch },
      ttl,
    );
    return render(email, {
      subject: "Confirm your new email address",
      paragraphs: [
        `Someone, hopefully you, asked to move the account ${user.email} to this address, ${email}.`,
        `The link below works once, for ${describeDuration(ttl)}. Until it is used, the account keeps its current address.`,
      ],
      link: { url: `${origin}/account/email/confirm?token=${token}`, label: "Use this address" },
      after: ["If you did not ask for this, ignore this mail: nothing changes."],
    });
  };

  const compose = async (job: MailJob): Promise<Mail | undefined> => {
    switch (job.kind) {
      case "password-reset": {
        const user = active(await users.findByEmail(job.email));
        return user ? resetMail(user) : undefined;
      }
      case "email-verification": {
        const user = active(
          "userId" in job ? await users.findById(job.userId) : await users.findByEmail(job.email),
        );
        return user && !user.emailVerifiedAt ? verificationMail(user) : undefined;
      }
      case "registration-attempt": {
        const user = active(await users.findByEmail(job.email));
        if (!user) return undefined;
        // Registering again before confirming is most likely the owner who lost the first mail.
        if (!user.emailVerifiedAt) return verificationMail(user);
        return render(user.email, {
          subject: "Someone tried to sign up with your address",
          paragraphs: [
            `Someone tried to create an account with ${user.email}, which already has one. No account was created and nothing changed.`,
            "If it was you: you already have an account. Log in, or reset your password if you forgot it.",
          ],
          link: { url: `${origin}/password/forgot`, label: "Reset my password" },
          after: ["If it was not you, you can ignore this mail."],
        });
      }
      case "new-sign-in": {
        const user = active(await users.findById(job.userId));
        if (!user) return undefined;
        const at = new Date(job.at).toISOString().slice(0, 16).replace("T", " ");
        return render(user.email, {
          subject: "New sign-in to your account",
          paragraphs: [
            `Your account ${user.email} was signed in from a device it had not used before.`,
            `Device: ${job.device}\nAddress: ${job.ip || "unknown"}\nTime: ${at} UTC`,
            "If this was you, there is nothing to do. If not, change your password and sign out the devices you do not know:",
          ],
          link: { url: `${origin}/account`, label: "Review your sessions" },
        });
      }
      case "second-factor-changed": {
        const user = active(await users.findById(job.userId));
        if (!user) return undefined;
        return render(user.email, {
          subject: FACTOR_CHANGES[job.change].subject,
          paragraphs: [
            `${FACTOR_CHANGES[job.change].what} on the account ${user.email}.`,
            "If this was you, there is nothing to do. If not, change your password, review your second factors and sign out the devices you do not know:",
          ],
          link: { url: `${origin}/account`, label: "Review your account" },
        });
      }
      case "second-factors-reset": {
        const user = active(await users.findById(job.userId));
        if (!user) return undefined;
        return render(user.email, {
          subject: "Your second factors were removed",
          paragraphs: [
            `An administrator removed every second factor (authenticator app, recovery codes, passkeys) of the account ${user.email}. You sign in with your password alone until you set a new one up.`,
            "If you did not ask for this, contact the site's operators and change your password.",
          ],
          link: { url: `${origin}/account`, label: "Set up a second factor" },
        });
      }
      case "email-change": {
        const user = active(await users.findById(job.userId));
        // A password change since the request voids it: no link bound to the new epoch goes out.
        if (!user || user.credentialEpoch !== job.credentialEpoch) return undefined;
        const holder = await users.findByEmail(job.email);
        if (!holder) return emailChangeMail(user, job.email);
        if (holder.id === user.id || holder.disabledAt) return undefined;
        return render(holder.email, {
          subject: "Someone tried to move an account to your address",
          paragraphs: [
            `Someone tried to move another account to ${holder.email}, which already has an account. Nothing changed: your account stays as it is, and no other account can take this address.`,
            "If it was you: this address already has an account of its own. Log in to it, or reset its password if you forgot it.",
          ],
          link: { url: `${origin}/password/forgot`, label: "Reset my password" },
          after: ["If it was not you, you can ignore this mail."],
        });
      }
      case "email-change-requested": {
        const user = active(await users.findById(job.userId));
        if (!user || user.email.toLowerCase() === job.email.toLowerCase()) return undefined;
        return render(user.email, {
          subject: "A change of your email address was requested",
          paragraphs: [
            `Someone signed in to the account ${user.email} asked to move it to ${job.email}. The change happens only once the link mailed to the new address is used.`,
            "If this was you, there is nothing to do here. If not, change your password (that voids the link) and sign out the devices you do not know:",
          ],
          link: { url: `${origin}/account`, label: "Review your account" },
        });
      }
      case "email-changed":
        return render(job.email, {
          subject: "Your email address was changed",
          paragraphs: [
            `The account that used ${job.email} now uses ${job.newEmail}. Mails about it go there from now on, and this address no longer signs in.`,
            "If you did not ask for this, reply to this mail or contact the site's operators.",
          ],
        });
      case "account-deleted":
        return render(job.email, {
          subject: "Your account was deleted",
          paragraphs: [
            `The account ${job.email} was deleted, with its sessions and its recorded activity. Every device it was signed in on is signed out.`,
            "If you did not ask for this, reply to this mail or contact the site's operators.",
          ],
        });
    }
  };
  return compose;
}
