import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../server/config/config.js";
import { createAccountTokens } from "../../../server/domain/auth/account-tokens.js";
import { createUserRepository } from "../../../server/domain/auth/user-repository.js";
import { createMailComposer, describeDuration } from "../../../server/domain/mail/compose.js";
import { testEnv } from "../../helpers/app.js";
import { testDatabase } from "../../helpers/fixtures.js";
import { silentLogger } from "../../helpers/logger.js";
import { uniqueEmail } from "../../helpers/session.js";

const { db } = await testDatabase();
const users = createUserRepository(db);
const tokens = createAccountTokens(db);
const config = loadConfig(
  testEnv({ PUBLIC_URL: "https://auth.example.test", PASSWORD_RESET_TTL_SECONDS: "900" }),
);
const compose = createMailComposer({ config, db, logger: silentLogger() });

/** A valid address whose local part HTML would take for markup. */
const markupEmail = () => uniqueEmail('a<b>&"c').replace("@", "'x@");

describe("mail composer", () => {
  it("writes the reset link from PUBLIC_URL with a working token, in text and in escaped HTML", async () => {
    const email = markupEmail();
    const user = await users.create(email, "hash");
    const mail = await compose({ kind: "password-reset", email });
    expect(mail?.to).toBe(email);
    const link = /https:\/\/auth\.example\.test\/password\/reset\?token=([A-Za-z0-9_-]{43})/.exec(
      mail?.text ?? "",
    );
    expect(link).not.toBeNull();
    expect(mail?.text).toContain("15 minutes");
    expect(mail?.text).toContain(email);
    expect(mail?.html).not.toContain(email);
    expect(mail?.html).toContain(
      email
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;")
        .replace(/"/g, "&quot;")
        .replace(/'/g, "&#39;"),
    );
    expect(await tokens.consume(link?.[1] as string, "password_reset")).toEqual({
      userId: user.id,
      credentialEpoch: 0,
    });
  });

  it("moves an address: a link bound to the new address and the epoch, or a notice to an address that is taken", async () => {
    const user = await users.create(uniqueEmail("mover"), "hash");
    const target = markupEmail();
    const link = await compose({ kind: "email-change", userId: user.id, email: target, credentialEpoch: 0 });
    expect(link?.to).toBe(target);
    expect(link?.subject).toBe("Confirm your new email address");
    const token = /https:\/\/auth\.example\.test\/account\/email\/confirm\?token=([A-Za-z0-9_-]{43})/.exec(
      link?.text ?? "",
    )?.[1];
    expect(link?.html).not.toContain(target);
    expect(await tokens.consume(token as string, "email_change")).toEqual({
      userId: user.id,
      credentialEpoch: 0,
      email: target,
    });

    // The address has an account: its owner hears of the attempt, and no link exists anywhere.
    const holder = await users.create(uniqueEmail("holder"), "hash");
    const notice = await compose({
      kind: "email-change",
      userId: user.id,
      email: holder.email,
      credentialEpoch: 0,
    });
    expect(notice?.to).toBe(holder.email);
    expect(notice?.subject).toBe("Someone tried to move an account to your address");
    expect(notice?.text).not.toMatch(/\/account\/email\/confirm/);
    // A password change since the request: nothing goes out.
    await users.updatePassword(user.id, "another hash");
    expect(
      await compose({
        kind: "email-change",
        userId: user.id,
        email: uniqueEmail("late"),
        credentialEpoch: 0,
      }),
    ).toBeUndefined();

    const requested = await compose({ kind: "email-change-requested", userId: user.id, email: target });
    expect(requested?.to).toBe(user.email);
    expect(requested?.text).toContain(target);
    expect(requested?.text).not.toMatch(/token=/);
    const changed = await compose({ kind: "email-changed", email: user.email, newEmail: target });
    expect(changed?.to).toBe(user.email);
    expect(changed?.subject).toBe("Your email address was changed");
    expect(changed?.html).not.toContain(target);
  });

  it("sends nothing for an unknown or disabled account, or a verification to a confirmed one", async () => {
    expect(await compose({ kind: "password-reset", email: uniqueEmail("nobody") })).toBeUndefined();
    const disabled = await users.create(uniqueEmail("disabled"), "hash");
    await users.setDisabled(disabled.id, true);
    expect(await compose({ kind: "password-reset", email: disabled.email })).toBeUndefined();
    expect(
      await compose({ kind: "new-sign-in", userId: disabled.id, device: "x", ip: "1", at: 0 }),
    ).toBeUndefined();
    const confirmed = await users.create(uniqueEmail("confirmed"), "hash");
    await users.markEmailVerified(confirmed.id, confirmed.email);
    expect(await compose({ kind: "email-verification", userId: confirmed.id })).toBeUndefined();
    expect(await compose({ kind: "email-verification", email: confirmed.email })).toBeUndefined();
  });

  it("tells the owner of a taken address about the attempt, or sends an unconfirmed one its link", async () => {
    const confirmed = await users.create(uniqueEmail("taken"), "hash");
    await users.markEmailVerified(confirmed.id, confirmed.email);
    const attempt = await compose({ kind: "registration-attempt", email: confirmed.email });
    expect(attempt?.subject).toBe("Someone tried to sign up with your address");
    expect(attempt?.text).not.toMatch(/token=/);
    const unconfirmed = await users.create(uniqueEmail("pending"), "hash");
    const link = await compose({ kind: "registration-attempt", email: unconfirmed.email });
    expect(link?.subject).toBe("Confirm your email address");
    expect(link?.text).toMatch(/https:\/\/auth\.example\.test\/email\/verify\?token=[A-Za-z0-9_-]{43}/);
  });

  it("tells the owner of every change to a second factor and of a reset, never a disabled account", async () => {
    const user = await users.create(uniqueEmail("factors"), "hash");
    const changes = [
      "totp-added",
      "totp-removed",
      "passkey-added",
      "passkey-removed",
      "recovery-code-used",
      "recovery-codes-regenerated",
    ] as const;
    const subjects = [];
    for (const change of changes) {
      const mail = await compose({ kind: "second-factor-changed", userId: user.id, change });
      expect(mail?.to).toBe(user.email);
      expect(mail?.text).toContain("https://auth.example.test/account");
      subjects.push(mail?.subject);
    }
    expect(new Set(subjects).size).toBe(changes.length);
    const reset = await compose({ kind: "second-factors-reset", userId: user.id });
    expect(reset?.subject).toBe("Your second factors were removed");
    await users.setDisabled(user.id, true);
    expect(await compose({ kind: "second-factors-reset", userId: user.id })).toBeUndefined();
    expect(
      await compose({ kind: "second-factor-changed", userId: user.id, change: "totp-added" }),
    ).toBeUndefined();
  });

  it("escapes what the sign-in notice quotes from the request", async () => {
    const user = await users.create(uniqueEmail("notice"), "hash");
    const mail = await compose({
      kind: "new-sign-in",
      userId: user.id,
      device: '<img src=x onerror="alert(1)">',
      ip: "203.0.113.7",
      at: Date.UTC(2026, 10, 28, 9, 30),
    });
    expect(mail?.text).toContain("Time: 2026-11-28 09:30 UTC");
    expect(mail?.html).not.toContain("<img");
    expect(mail?.html).toContain("&lt;img src=x");
  });

  it("says how long a link works in plain words", () => {
    expect(describeDuration(1800)).toBe("30 minutes");
    expect(describeDuration(60)).toBe("1 minute");
    expect(describeDuration(7200)).toBe("2 hours");
    expect(describeDuration(86_400)).toBe("1 day");
  });
});
