import type { AdminUserSummary, UserFilter } from "../../domain/admin/user-directory.js";
import type { FactorSummary } from "../../domain/mfa/factor-reset.js";
import type { Identity } from "../../domain/oidc/identities.js";
import type { SecurityEvent } from "../../domain/security/events.js";
import type { HourCounts } from "../../domain/security/sign-in-stats.js";
import type { SessionView } from "../../domain/session/user-sessions.js";
import { html, type SafeHtml } from "../../lib/html.js";
import { describeDevice } from "../../lib/user-agent.js";
import { layout, when } from "../pages/views.js";
import { signInChart } from "./chart.js";

/** What an action on the user page is called, and whether it asks for confirmation first. */
export const ACTIONS = {
  "revoke-sessions": { label: "End every session", destructive: true },
  disable: { label: "Disable the account", destructive: true },
  enable: { label: "Enable the account", destructive: false },
  "password-reset": { label: "Send a password reset", destructive: false },
  verification: { label: "Send the confirmation link again", destructive: false },
  "second-factors-reset": { label: "Reset second factors", destructive: true },
  delete: { label: "Delete the account", destructive: true },
} as const;
export type ActionName = keyof typeof ACTIONS;

const nav = html`<nav class="admin" aria-label="Admin"><a href="/admin">Overview</a><a href="/admin/users">Users</a><a href="/account">My account</a></nav>`;

function adminLayout(title: string, body: SafeHtml): string {
  return layout(`${title} · Admin`, html`${nav}${body}`);
}

function notice(message: string | undefined) {
  return message ? html`<p class="notice" role="status">${message}</p>` : "";
}

export function overviewPage(o: {
  hours: HourCounts[];
  /** Accounts whose password attempts are refused right now; undefined: unknown. */
  locked?: number;
  users: number;
  sessions?: number;
  queue?: Record<string, number>;
  redis?: { policy?: string; warnings: string[] };
}): string {
  const queue = o.queue
    ? Object.entries(o.queue)
        .map(([state, n]) => `${n} ${state}`)
        .join(", ")
    : "unknown";
  return adminLayout(
    "Overview",
    html`<h1>Overview</h1>
<section aria-labelledby="signins-title"><h2 id="signins-title">Sign-ins</h2>${signInChart(o.hours)}</section>
<ul class="stats">
<li>Accounts: <strong>${o.users}</strong></li>
<li>Active sessions: <strong>${o.sessions ?? "unknown"}</strong></li>
<li>Accounts locked now (too many wrong passwords): <strong>${o.locked ?? "unknown"}</strong></li>
<li>Mail queue: <strong>${queue}</strong></li>
</ul>
<section aria-labelledby="redis-title"><h2 id="redis-title">Redis audit</h2>
${
  o.redis
    ? html`<p>Eviction policy: <strong>${o.redis.policy ?? "unknown"}</strong>.</p>
${o.redis.warnings.length ? html`<ul>${o.redis.warnings.map((w) => html`<li>${w}</li>`)}</ul>` : html`<p>No findings.</p>`}`
    : html`<p class="muted">No Redis audit: sessions are kept in this process, or the audit has not run yet.</p>`
}
</section>`,
  );
}

export function usersPage(o: {
  users: AdminUserSummary[];
  q?: string;
  filter?: UserFilter;
  next?: string;
}): string {
  const nextLink = o.next
    ? `/admin/users?${new URLSearchParams({ ...(o.q ? { q: o.q } : {}), ...(o.filter ? { filter: o.filter } : {}), cursor: o.next })}`
    : undefined;
  const option = (value: string, label: string) =>
    html`<option value="${value}"${(o.filter ?? "") === value ? html` selected` : ""}>${label}</option>`;
  return adminLayout(
    "Users",
    html`<h1>Users</h1>
<form class="card" method="get" action="/admin/users" role="search">
<div class="field"><label for="f-q">Email contains</label><input id="f-q" name="q" type="search" value="${o.q ?? ""}"></div>
<div class="field"><label for="f-filter">Show</label><select id="f-filter" name="filter">${option("", "Everyone")}${option("disabled", "Disabled")}${option("unverified", "Unconfirmed address")}${option("mfa", "With a second factor")}</select></div>
<button type="submit">Search</button>
</form>
<table>
<caption class="muted">${o.users.length} ${o.users.length === 1 ? "user" : "users"} on this page</caption>
<thead><tr><th scope="col">Email</th><th scope="col">Created</th><th scope="col">State</th><th scope="col">Groups</th></tr></thead>
<tbody>
${o.users.map(
  (u) => html`<tr>
<td data-label="Email"><a href="/admin/users/${u.id}">${u.email}</a></td>
<td data-label="Created">${when(u.createdAt)}</td>
<td data-label="State">${u.disabled ? "disabled" : "active"}${u.emailVerified ? "" : ", unconfirmed"}</td>
<td data-label="Groups">${u.groups.join(", ")}</td>
</tr>`,
)}
</tbody>
</table>
${nextLink ? html`<p><a href="${nextLink}">Next page</a></p>` : ""}`,
  );
}

function sessionRow(userId: string, s: SessionView): SafeHtml {
  return html`<tr>
<td data-label="Device">${describeDevice(s.userAgent)}</td>
<td data-label="IP address">${s.ip || "unknown"}</td>
<td data-label="Last seen">${when(s.lastSeenAt)}</td>
<td><form class="inline" method="post" action="/admin/users/${userId}/sessions/${encodeURIComponent(s.id)}/revoke">
<button type="submit" class="danger">End</button></form></td>
</tr>`;
}

export function userPage(o: {
  user: AdminUserSummary;
  sessions: SessionView[];
  identities: Identity[];
  events: SecurityEvent[];
  factors: FactorSummary;
  notice?: string;
  alert?: string;
}): string {
  const { user } = o;
  const actions = (Object.keys(ACTIONS) as ActionName[]).filter((a) =>
    a === "enable"
      ? user.disabled
      : a === "disable"
        ? !user.disabled
        : a === "verification"
          ? !user.emailVerified
          : a === "second-factors-reset"
            ? o.factors.totp || o.factors.passkeys > 0
            : true,
  );
  return adminLayout(
    user.email,
    html`<h1>${user.email}</h1>
${notice(o.notice)}
${o.alert ? html`<p class="alert" role="alert">${o.alert}</p>` : ""}
<p>${user.disabled ? html`<strong>Disabled.</strong> ` : ""}Created ${when(user.createdAt)}; address ${user.emailVerified ? "confirmed" : "not confirmed"}.</p>
<section aria-labelledby="actions-title"><h2 id="actions-title">Actions</h2>
<div class="actions">
${actions.map(
  (a) => html`<form class="inline" method="post" action="/admin/users/${user.id}/${a}">
<button type="submit" class="${ACTIONS[a].destructive ? "danger" : "secondary"}">${ACTIONS[a].label}</button></form>`,
)}
</div></section>
<section aria-labelledby="factors-title"><h2 id="factors-title">Second factors</h2>
<ul>
<li>Authenticator app (TOTP): ${o.factors.totp ? "on" : "off"}</li>
<li>Passkeys: ${String(o.factors.passkeys)}</li>
<li>Recovery codes left: ${String(o.factors.recoveryCodesLeft)}</li>
</ul></section>
<section aria-labelledby="groups-title"><h2 id="groups-title">Groups</h2>
<ul>${user.groups.map(
      (g) =>
        html`<li>${g} <form class="inline" method="post" action="/admin/users/${user.id}/groups/${g}/remove"><button type="submit" class="danger">Remove</button></form></li>`,
    )}</ul>
<form method="post" action="/admin/users/${user.id}/groups">
<div class="field"><label for="f-group">Add to group</label><input id="f-group" name="name" type="text" required pattern="[a-z0-9][a-z0-9._\\-]{0,62}"></div>
<button type="submit" class="secondary">Add</button>
</form></section>
<section aria-labelledby="sessions-title"><h2 id="sessions-title">Sessions</h2>
<table><caption class="muted">${o.sessions.length} active</caption>
<thead><tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Last seen</th><th scope="col"><span class="skip">Action</span></th></tr></thead>
<tbody>${o.sessions.map((s) => sessionRow(user.id, s))}</tbody></table></section>
<section aria-labelledby="identities-title"><h2 id="identities-title">Sign-in providers</h2>
${
  o.identities.length
    ? html`<ul>${o.identities.map((i) => html`<li>${i.provider}: ${i.email ?? i.subject}, linked ${when(i.createdAt.toISOString())}</li>`)}</ul>`
    : html`<p class="muted">None linked.</p>`
}</section>
<section aria-labelledby="events-title"><h2 id="events-title">Security events</h2>
<table><thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">IP address</th><th scope="col">Device</th></tr></thead>
<tbody>${o.events.map(
      (e) =>
        html`<tr><td data-label="When">${when(e.at)}</td><td data-label="Event">${e.event}${e.action ? ` (${e.action})` : ""}</td><td data-label="IP address">${e.ip ?? ""}</td><td data-label="Device">${e.device ?? ""}</td></tr>`,
    )}</tbody></table></section>`,
  );
}

/** The confirmation step of a destructive action; deleting asks for the address itself. */
export function confirmActionPage(o: { user: AdminUserSummary; action: ActionName; error?: string }): string {
  const { user, action } = o;
  return adminLayout(
    "Confirm",
    html`<h1>${ACTIONS[action].label}?</h1>
<form class="card" method="post" action="/admin/users/${user.id}/${action}">
<input type="hidden" name="confirmed" value="yes">
<p>This applies to <strong>${user.email}</strong>${action === "delete" ? " and cannot be undone" : action === "second-factors-reset" ? ": the authenticator app, its recovery codes and every passkey are removed, and the owner is mailed" : ""}.</p>
${
  action === "delete"
    ? html`<div class="field"><label for="f-confirm">Type the address to confirm</label>
<input id="f-confirm" name="confirm" type="text" autocomplete="off" required${o.error ? html` aria-invalid="true" aria-describedby="f-confirm-error"` : ""}>
${o.error ? html`<p class="error" id="f-confirm-error">${o.error}</p>` : ""}</div>`
    : ""
}
<button type="submit" class="danger">${ACTIONS[action].label}</button>
</form>
<p><a href="/admin/users/${user.id}">Cancel</a></p>`,
  );
}

/** The console refused a session without a second factor: set one up, or sign in again with it. */
export function secondFactorNeededPage(): string {
  return layout(
    "A second factor is needed · Admin",
    html`<h1>Sign in with a second factor</h1>
<p role="alert">The admin console needs a session signed in with a second factor (an authenticator app or a passkey).</p>
<ul>
<li>No second factor yet? <a href="/account">Set one up on your account page</a>, then come back.</li>
<li>Already have one? Log out and sign in again with it.</li>
</ul>
<form method="post" action="/logout">
<button type="submit" class="secondary">Log out</button>
</form>`,
  );
}
