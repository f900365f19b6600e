import { html, type SafeHtml } from "../../lib/html.js";

/** One row of the account page's recent activity (see server/http/routes/activity.ts `publicActivity`). */
export interface ActivityRow {
  at: string;
  event: string;
  ip: string | null;
  device: string | null;
}

const LABELS: Record<string, string> = {
  login_succeeded: "Signed in",
  login_failed: "Failed sign-in attempt",
  login_locked: "Sign-in refused: too many attempts",
  login_refused_disabled: "Sign-in refused: the account is disabled",
  lockout_cleared: "Failed attempts cleared by a sign-in",
  password_changed: "Password changed",
  password_reset: "Password reset by email link; every device signed out",
  email_change_requested: "Email change requested; a link was mailed to the new address",
  email_changed: "Email address changed",
  session_revoked: "A session was signed out",
  other_sessions_revoked: "All other devices signed out",
  logged_out: "Logged out",
  csrf_refused: "A request from another site was refused",
  rate_limited: "Too many requests refused",
  identity_linked: "A sign-in provider was linked to this account",
  identity_unlinked: "A sign-in provider was unlinked from this account",
  personal_token_created: "Personal access token created",
  personal_token_revoked: "Personal access token revoked",
};

/** The account page's "Recent security activity"; `undefined` rows: the list could not be read. */
export function activitySection(rows: ActivityRow[] | undefined): SafeHtml {
  return html`<section aria-labelledby="activity-title">
<h2 id="activity-title">Recent security activity</h2>
${
  rows === undefined
    ? html`<p class="muted">Your recent activity cannot be shown right now.</p>`
    : rows.length === 0
      ? html`<p class="muted">Nothing recorded yet.</p>`
      : html`<table>
<caption class="muted">The latest ${rows.length} ${rows.length === 1 ? "event" : "events"}, newest first</caption>
<thead><tr><th scope="col">What</th><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">When</th></tr></thead>
<tbody>
${rows.map(
  (r) => html`<tr>
<td data-label="What">${LABELS[r.event] ?? r.event}</td>
<td data-label="Device">${r.device ?? "Unknown device"}</td>
<td data-label="IP address">${r.ip || "unknown"}</td>
<td data-label="When"><time datetime="${r.at}">${r.at.slice(0, 16).replace("T", " ")} UTC</time></td>
</tr>`,
)}
</tbody>
</table>`
}
</section>`;
}
