import type { SessionView } from "../../domain/session/user-sessions.js";
import { type HtmlValue, html, type SafeHtml } from "../../lib/html.js";
import { describeDevice } from "../../lib/user-agent.js";
import { type ActivityRow, activitySection } from "./activity-view.js";
import { ICON_PATH } from "./icon.js";
import { type IdentityRow, identitiesSection, providerLabel } from "./identities-view.js";
import { PASSKEY_SCRIPT_PATH, WEBAUTHN_BROWSER_PATH } from "./passkey-script.js";
import { STYLESHEET_PATH } from "./stylesheet.js";

export type Errors = Partial<Record<string, string>>;

/** The page around `body`: the stylesheet, the icon, a skip link; with `passkeys`, the two scripts
 * that drive the passkey buttons. */
export function layout(title: string, body: SafeHtml, passkeys = false): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Account</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
<link rel="icon" href="${ICON_PATH}" type="image/svg+xml">
${
  passkeys
    ? html`<script src="${WEBAUTHN_BROWSER_PATH}" defer></script>
<script src="${PASSKEY_SCRIPT_PATH}" defer></script>`
    : ""
}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><p>Account</p></header>
<main id="main">
${body}
</main>
</body>
</html>
`.value;
}

interface FieldOptions {
  name: string;
  label: string;
  type: "email" | "password" | "text";
  autocomplete: string;
  /** Never given for passwords: they are not echoed back. */
  value?: string;
  error?: string;
  autofocus?: boolean;
  hint?: string;
}

/** A labelled input with its error right after it, tied together by aria-describedby. */
function field(o: FieldOptions): SafeHtml {
  const id = `f-${o.name}`;
  const described = [o.hint ? `${id}-hint` : "", o.error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return html`<div class="field">
<label for="${id}">${o.label}</label>
<input id="${id}" name="${o.name}" type="${o.type}" autocomplete="${o.autocomplete}" required${
    o.value !== undefined && o.type !== "password" ? html` value="${o.value}"` : ""
  }${o.error ? html` aria-invalid="true"` : ""}${described ? html` aria-describedby="${described}"` : ""}${
    o.autofocus ? html` autofocus` : ""
  }>
${o.hint ? html`<p class="muted" id="${id}-hint">${o.hint}</p>` : ""}
${o.error ? html`<p class="error" id="${id}-error">${o.error}</p>` : ""}
</div>`;
}

function alert(message: string | undefined): HtmlValue {
  return message ? html`<p class="alert" role="alert">${message}</p>` : "";
}

/** The first field with an error gets the focus, so keyboard and screen-reader users land on it. */
function firstError(errors: Errors, order: string[]): string | undefined {
  return order.find((name) => errors[name]);
}

/** A link to the other form that keeps where the browser returns to (`next`, already checked). */
const withNext = (path: string, next: string | undefined) =>
  next ? `${path}?next=${encodeURIComponent(next)}` : path;

function notice(message: string | undefined): HtmlValue {
  return message ? html`<p class="notice" role="status">${message}</p>` : "";
}

/**
 * Fixed messages the login page shows after a redirect (`?done=`); nothing from the query is echoed. A Map,
 * so `?done=constructor` or `__proto__` finds nothing rather than an object's inherited members.
 */
export const LOGIN_NOTICES: ReadonlyMap<string, string> = new Map([
  ["reset", "Your password was changed and every device signed out. Log in with the new password."],
  ["verified", "Your email address is confirmed. You can log in."],
  ["email-changed", "Your email address was changed. Log in with the new address."],
  ["check-inbox", "Check your inbox: open the link we sent to confirm your address, then log in."],
  ["link-sent", "If this address has an account that is not confirmed yet, a new link is on its way."],
  [
    "deleted",
    "Your account is deleted and every device signed out. A confirmation is on its way to your inbox.",
  ],
]);

export function loginPage(o: {
  email?: string;
  errors?: Errors;
  alert?: string;
  next?: string;
  notice?: string;
  /** The password was right but the address is not confirmed: offer the link again. */
  unverified?: boolean;
  /** Offer "Sign in with a passkey" (not with MFA=off). */
  passkeys?: boolean;
  /** Sign-in providers (their names in `/auth/oauth/:provider`). */
  providers?: string[];
}): string {
  const errors = o.errors ?? {};
  const focus = firstError(errors, ["email", "password"]) ?? (o.alert ? "password" : "email");
  return layout(
    "Log in",
    html`<h1>Log in</h1>
${notice(o.notice)}
${alert(o.alert)}
${
  o.unverified && o.email
    ? html`<form class="card" method="post" action="/email/verify/resend">
<input type="hidden" name="email" value="${o.email}">
<button type="submit" class="secondary">Send the confirmation link again</button>
</form>`
    : ""
}
<form class="card" method="post" action="/login" novalidate>
${o.next ? html`<input type="hidden" name="next" value="${o.next}">` : ""}
${field({ name: "email", label: "Email", type: "email", autocomplete: o.passkeys ? "username webauthn" : "username", value: o.email, error: errors.email, autofocus: focus === "email" })}
${field({ name: "password", label: "Password", type: "password", autocomplete: "current-password", error: errors.password, autofocus: focus === "password" })}
<button type="submit">Log in</button>
</form>
${
  o.passkeys
    ? html`<div class="card" data-passkey hidden>
<button type="button" id="passkey-sign-in" class="secondary">Sign in with a passkey</button>
<p id="passkey-status" aria-live="polite"></p>
</div>`
    : ""
}
${providerLinks(o.providers ?? [], o.next)}
<p><a href="/password/forgot">Forgot password?</a></p>
<p>No account yet? <a href="${withNext("/register", o.next)}">Create one</a>.</p>`,
    o.passkeys ?? false,
  );
}

function providerLinks(providers: string[], next: string | undefined): SafeHtml | string {
  if (providers.length === 0) return "";
  return html`<section class="card" aria-label="Other ways to log in">
${providers.map((name) => html`<p><a class="button secondary" href="${withNext(`/auth/oauth/${name}`, next)}">Log in with ${providerLabel(name)}</a></p>`)}
</section>`;
}

export function registerPage(o: { email?: string; errors?: Errors; alert?: string; next?: string }): string {
  const errors = o.errors ?? {};
  const focus = firstError(errors, ["email", "password"]) ?? "email";
  return layout(
    "Create an account",
    html`<h1>Create an account</h1>
${alert(o.alert)}
<form class="card" method="post" action="/register" novalidate>
${o.next ? html`<input type="hidden" name="next" value="${o.next}">` : ""}
${field({ name: "email", label: "Email", type: "email", autocomplete: "username", value: o.email, error: errors.email, autofocus: focus === "email" })}
${field({ name: "password", label: "Password", type: "password", autocomplete: "new-password", error: errors.password, hint: "At least 8 characters.", autofocus: focus === "password" })}
<button type="submit">Create account</button>
</form>
<p>Already registered? <a href="${withNext("/login", o.next)}">Log in</a>.</p>`,
  );
}

export function when(iso: string): SafeHtml {
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace("T", " ")} UTC</time>`;
}

function sessionRow(s: SessionView): SafeHtml {
  const device = describeDevice(s.userAgent);
  return html`<tr>
<td data-label="Device">${device}${s.client === "app" ? html` <span class="badge">App</span>` : ""}${s.current ? html` <span class="badge">This device</span>` : ""}</td>
<td data-label="IP address">${s.ip || "unknown"}</td>
<td data-label="Last seen">${when(s.lastSeenAt)}</td>
<td><form class="inline" method="post" action="/account/sessions/${encodeURIComponent(s.id)}/revoke">
<button type="submit" class="danger" aria-label="Sign out ${device}${s.current ? " (this device)" : ""}, last seen ${s.lastSeenAt.slice(0, 16).replace("T", " ")} UTC">Sign out</button>
</form></td>
</tr>`;
}

/** The account page's messages after a redirect (`?done=`), a Map for the same reason as LOGIN_NOTICES. */
export const NOTICES: ReadonlyMap<string, string> = new Map([
  ["password", "Your password was changed. Every other device has been signed out."],
  ["session", "That session has been signed out."],
  ["others", "Every other device has been signed out."],
  ["gone", "That session had already ended."],
  ["token", "That token has been revoked."],
  ["token-gone", "That token had already been revoked or expired."],
  ["verified", "Your email address is confirmed."],
  ["link-sent", "A new confirmation link is on its way. Check your inbox."],
  [
    "email-link-sent",
    "A link to confirm the new address is on its way to it. Your address stays as it is until the link is used.",
  ],
  ["email-changed", "Your email address was changed."],
  ["passkey-added", "Your passkey was added. You can sign in with it."],
  ["passkey-removed", "The passkey was removed."],
  ["totp-off", "The authenticator app was turned off."],
  ["unlinked", "The provider was unlinked: it no longer signs in to this account."],
]);

export function accountPage(o: {
  email: string;
  sessions: SessionView[];
  /** Recent security events; undefined when they could not be read. */
  activity?: ActivityRow[];
  notice?: string;
  errors?: Errors;
  alert?: string;
  /** False: the address is not confirmed yet (a button sends the link again). */
  emailVerified?: boolean;
  /** The personal access tokens section (token-views.ts). */
  tokens?: SafeHtml;
  /** The "Sign-in methods" section; absent with MFA=off. */
  methods?: SignInMethodsView;
  /** Linked identities; undefined when they could not be read. */
  identities?: IdentityRow[];
  /** Configured sign-in providers. */
  providers?: string[];
  /** A refusal about the providers (unlinking the last way in). */
  identityAlert?: string;
  /** The new address typed into "Change email" (kept after an error). */
  newEmail?: string;
}): string {
  const errors = o.errors ?? {};
  const focus = firstError(errors, ["email", "currentPassword", "newPassword"]);
  const others = o.sessions.filter((s) => !s.current).length;
  return layout(
    "Your account",
    html`<h1>Your account</h1>
${o.notice ? html`<p class="notice" role="status">${o.notice}</p>` : ""}
<p>Signed in as <strong>${o.email}</strong>.</p>
${
  o.emailVerified === false
    ? html`<form class="inline" method="post" action="/email/verify/resend">
<p>This address is not confirmed yet. <button type="submit" class="secondary">Send the confirmation link again</button></p>
</form>`
    : ""
}

<section aria-labelledby="sessions-title">
<h2 id="sessions-title">Active sessions</h2>
<table>
<caption class="muted">${o.sessions.length} active ${o.sessions.length === 1 ? "session" : "sessions"}</caption>
<thead><tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Last seen</th><th scope="col"><span class="skip">Action</span></th></tr></thead>
<tbody>
${o.sessions.map(sessionRow)}
</tbody>
</table>
<div class="actions">
<form class="inline" method="post" action="/account/sessions/revoke-others">
<button type="submit" class="secondary"${others === 0 ? html` disabled` : ""}>Sign out all other devices</button>
</form>
</div>
</section>

<section aria-labelledby="email-title">
<h2 id="email-title">Change email</h2>
<form method="post" action="/account/email" novalidate>
${field({ name: "email", label: "New email address", type: "email", autocomplete: "email", value: o.newEmail, error: errors.email, hint: "We mail a link to the new address; the change happens once it is used.", autofocus: focus === "email" })}
<button type="submit">Change email</button>
</form>
</section>

<section aria-labelledby="password-title">
<h2 id="password-title">Change password</h2>
${alert(o.alert)}
<form method="post" action="/account/password" novalidate>
<input type="email" name="username" autocomplete="username" value="${o.email}" hidden>
${field({ name: "currentPassword", label: "Current password", type: "password", autocomplete: "current-password", error: errors.currentPassword, autofocus: focus === "currentPassword" })}
${field({ name: "newPassword", label: "New password", type: "password", autocomplete: "new-password", error: errors.newPassword, hint: "At least 8 characters. Other devices will be signed out.", autofocus: focus === "newPassword" })}
<button type="submit">Change password</button>
</form>
</section>

${o.tokens ?? ""}
${o.methods ? signInMethodsSection(o.methods) : ""}
${identitiesSection(o.identities, o.providers ?? [], o.identityAlert)}

${activitySection(o.activity)}

<section aria-labelledby="data-title">
<h2 id="data-title">Your data</h2>
<div class="actions">
<a href="/auth/account/export" download>Download my data</a>
<a href="/account/delete">Delete my account</a>
</div>
</section>

<form method="post" action="/logout">
<button type="submit" class="secondary">Log out</button>
</form>`,
    o.methods !== undefined,
  );
}

export function forgotPasswordPage(o: {
  email?: string;
  errors?: Errors;
  alert?: string;
  sent?: boolean;
}): string {
  const errors = o.errors ?? {};
  return layout(
    "Forgot password",
    html`<h1>Forgot password</h1>
${o.sent ? notice("If an account uses this address, a link to reset its password is on its way. Check your inbox.") : ""}
${alert(o.alert)}
<form class="card" method="post" action="/password/forgot" novalidate>
${field({ name: "email", label: "Email", type: "email", autocomplete: "username", value: o.email, error: errors.email, autofocus: !o.sent, hint: "We mail a link that lets you choose a new password." })}
<button type="submit">Send the link</button>
</form>
<p><a href="/login">Back to log in</a></p>`,
  );
}

export function resetPasswordPage(o: { token: string; errors?: Errors; alert?: string }): string {
  const errors = o.errors ?? {};
  return layout(
    "Choose a new password",
    html`<h1>Choose a new password</h1>
${alert(o.alert)}
<form class="card" method="post" action="/password/reset" novalidate>
<input type="hidden" name="token" value="${o.token}">
${field({ name: "newPassword", label: "New password", type: "password", autocomplete: "new-password", error: errors.newPassword, hint: "At least 8 characters. Every device will be signed out.", autofocus: true })}
<button type="submit">Change password</button>
</form>`,
  );
}

/**
 * "Confirm it is you" before a sensitive action (step-up): the password again on this session. `next` is a
 * path on this site the form returns to (already checked by the caller).
 */
export function confirmIdentityPage(o: {
  email: string;
  next: string;
  errors?: Errors;
  alert?: string;
}): string {
  const errors = o.errors ?? {};
  return layout(
    "Confirm it is you",
    html`<h1>Confirm it is you</h1>
${alert(o.alert)}
<form class="card" method="post" action="/account/confirm" novalidate>
<p>You are signed in as ${o.email}. This action needs your password again.</p>
<input type="hidden" name="next" value="${o.next}">
${field({ name: "password", label: "Password", type: "password", autocomplete: "current-password", error: errors.password, autofocus: true })}
<button type="submit">Confirm</button>
</form>
<p><a href="/account">Cancel</a></p>`,
  );
}

/** A link that does not work (any more): say so and offer a new one. */
export function invalidLinkPage(o: {
  title: string;
  message: string;
  retry: { href: string; label: string };
}): string {
  return layout(
    o.title,
    html`<h1>${o.title}</h1>
<p role="alert">${o.message}</p>
<p><a href="${o.retry.href}">${o.retry.label}</a></p>`,
  );
}

/** The verification link lands here; only the button's POST confirms (mail scanners open links). */
export function verifyEmailPage(o: { token: string }): string {
  return layout(
    "Confirm your email address",
    html`<h1>Confirm your email address</h1>
<form class="card" method="post" action="/email/verify">
<input type="hidden" name="token" value="${o.token}">
<p>Press the button to confirm that this address is yours.</p>
<button type="submit">Confirm my address</button>
</form>`,
  );
}

/** The email-change link lands here; only the button's POST changes the address (mail scanners open links). */
export function confirmEmailChangePage(o: { token: string }): string {
  return layout(
    "Use your new email address",
    html`<h1>Use your new email address</h1>
<form class="card" method="post" action="/account/email/confirm">
<input type="hidden" name="token" value="${o.token}">
<p>Press the button to move your account to this address. You stay signed in on your devices.</p>
<button type="submit">Use this address</button>
</form>`,
  );
}

export function errorPage(o: { status: number; title: string; message: string }): string {
  return layout(
    o.title,
    html`<h1>${o.title}</h1>
<p role="alert">${o.message}</p>
<p><a href="/">Back to the start page</a></p>`,
  );
}

/** What the account page shows of the second factors and passkeys. */
export interface SignInMethodsView {
  totp: boolean;
  recoveryCodesLeft: number;
  passkeys: Array<{ id: string; name: string; createdAt: string; lastUsedAt: string | null }>;
}

function passkeyRow(p: SignInMethodsView["passkeys"][number]): SafeHtml {
  return html`<tr><td>${p.name}</td><td>${when(p.createdAt)}</td><td>${p.lastUsedAt ? when(p.lastUsedAt) : "never"}</td>
<td><form class="inline" method="post" action="/account/passkeys/${p.id}/remove"><button type="submit" class="secondary">Remove</button></form></td></tr>`;
}

function signInMethodsSection(m: SignInMethodsView): SafeHtml {
  return html`<section aria-labelledby="methods-title">
<h2 id="methods-title">Sign-in methods</h2>
<p>Authenticator app: <strong>${m.totp ? "on" : "off"}</strong>${
    m.totp
      ? html` (${String(m.recoveryCodesLeft)} recovery ${m.recoveryCodesLeft === 1 ? "code" : "codes"} left)`
      : ""
  }.</p>
${
  m.totp
    ? html`<div class="actions">
<form class="inline" method="post" action="/account/mfa/recovery-codes"><button type="submit" class="secondary">Regenerate recovery codes</button></form>
<a href="/account/mfa/totp/off">Turn off</a>
</div>`
    : html`<form class="inline" method="post" action="/account/mfa/totp/setup"><button type="submit">Set up an authenticator app</button></form>`
}
<h3>Passkeys</h3>
${
  m.passkeys.length > 0
    ? html`<table id="passkeys">
<thead><tr><th scope="col">Name</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col"><span class="skip">Action</span></th></tr></thead>
<tbody>
${m.passkeys.map(passkeyRow)}
</tbody>
</table>`
    : html`<p class="muted">No passkey yet.</p>`
}
<div data-passkey hidden>
<div class="field">
<label for="f-passkey-name">Name of the new passkey</label>
<input id="f-passkey-name" type="text" autocomplete="off" maxlength="64" placeholder="This laptop">
</div>
<button type="button" id="passkey-add">Add a passkey</button>
<p id="passkey-status" aria-live="polite"></p>
</div>
</section>`;
}
