import type { PersonalTokenView } from "../../domain/auth/personal-tokens.js";
import { html, type SafeHtml } from "../../lib/html.js";

/** The account page's personal access tokens: the list, revoke buttons, and the form that makes one. */
export function tokensSection(o: {
  tokens: PersonalTokenView[];
  /** TOKEN_SCOPES: the boxes of the form. */
  scopes: string[];
  maxDays: number;
  /** A token just created: shown here once, never again. */
  created?: { name: string; token: string };
  error?: string;
}): SafeHtml {
  return html`<section aria-labelledby="tokens-title">
<h2 id="tokens-title">Personal access tokens</h2>
<p class="muted">For scripts and services: send one as <code>Authorization: Bearer …</code>. It reaches your API routes and forward auth, never this account.</p>
${
  o.created
    ? html`<div class="notice" role="status"><p>Copy the token <strong>${o.created.name}</strong> now: it is not shown again.</p>
<p><code id="new-token">${o.created.token}</code></p></div>`
    : ""
}
${o.error ? html`<p class="alert" role="alert">${o.error}</p>` : ""}
${
  o.tokens.length > 0
    ? html`<table>
<thead><tr><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col"><span class="skip">Action</span></th></tr></thead>
<tbody>
${o.tokens.map(
  (t) => html`<tr>
<td data-label="Name">${t.name}</td>
<td data-label="Scopes">${t.scopes.join(", ") || "none"}</td>
<td data-label="Last used">${t.lastUsedAt ? `${t.lastUsedAt.slice(0, 16).replace("T", " ")} UTC` : "never"}</td>
<td data-label="Expires">${t.expiresAt.slice(0, 10)}</td>
<td><form class="inline" method="post" action="/account/tokens/${encodeURIComponent(t.id)}/revoke">
<button type="submit" class="danger" aria-label="Revoke the token ${t.name}">Revoke</button>
</form></td>
</tr>`,
)}
</tbody>
</table>`
    : html`<p>No tokens.</p>`
}
<form method="post" action="/account/tokens" novalidate>
<div class="field"><label for="f-token-name">Name</label>
<input id="f-token-name" name="name" type="text" autocomplete="off" required maxlength="100"></div>
${
  o.scopes.length > 0
    ? html`<fieldset><legend>Scopes</legend>
${o.scopes.map(
  (s) => html`<label><input type="checkbox" name="scopes" value="${s}"> ${s}</label>
`,
)}</fieldset>`
    : ""
}
<div class="field"><label for="f-token-days">Valid for (days)</label>
<input id="f-token-days" name="expiresInDays" type="number" min="1" max="${String(o.maxDays)}" value="30" required></div>
<label><input type="checkbox" name="endsWithPassword" value="true" checked> End it when my password changes</label>
<button type="submit">Create token</button>
</form>
</section>`;
}
