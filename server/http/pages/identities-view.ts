import { html, type SafeHtml } from "../../lib/html.js";

/** One linked identity as the account page shows it. */
export interface IdentityRow {
  provider: string;
  subject: string;
  email: string | null;
  linkedAt: string; // ISO 8601
}

const PROVIDER_LABELS: Record<string, string> = { github: "GitHub", gitlab: "GitLab" };

/** A provider's name as people know it: `google` → Google. */
export function providerLabel(name: string): string {
  return PROVIDER_LABELS[name] ?? `${name.charAt(0).toUpperCase()}${name.slice(1)}`;
}

const row = (i: IdentityRow) => html`<tr>
<td>${providerLabel(i.provider)}</td>
<td>${i.email ?? ""}</td>
<td><time datetime="${i.linkedAt}">${i.linkedAt.slice(0, 10)}</time></td>
<td><form class="inline" method="post" action="/account/identities/unlink">
<input type="hidden" name="provider" value="${i.provider}">
<input type="hidden" name="subject" value="${i.subject}">
<button type="submit" class="secondary">Unlink</button>
</form></td>
</tr>`;

const linkForm = (
  provider: string,
) => html`<form class="inline" method="post" action="/auth/oauth/${provider}/link">
<button type="submit" class="secondary">Link ${providerLabel(provider)}</button>
</form>`;

/**
 * The account page's "Sign-in providers": the linked identities with an unlink button each, and a link
 * button per configured provider. `undefined` rows: the list could not be read. Nothing without providers.
 */
export function identitiesSection(
  rows: IdentityRow[] | undefined,
  providers: string[],
  alert?: string,
): SafeHtml | string {
  if (providers.length === 0 && (rows ?? []).length === 0) return "";
  return html`<section aria-labelledby="identities-title">
<h2 id="identities-title">Sign-in providers</h2>
${alert ? html`<p class="alert" role="alert">${alert}</p>` : ""}
${
  rows === undefined
    ? html`<p class="muted">The linked providers cannot be shown right now.</p>`
    : rows.length === 0
      ? html`<p class="muted">No provider is linked to this account.</p>`
      : html`<table>
<thead><tr><th scope="col">Provider</th><th scope="col">Email there</th><th scope="col">Linked</th><th scope="col"><span class="skip">Action</span></th></tr></thead>
<tbody>
${rows.map(row)}
</tbody>
</table>`
}
<div class="actions">
${providers.map(linkForm)}
</div>
</section>`;
}
