import type { DeviceGrant } from "../../domain/auth/device-grants.js";
import { formatUserCode } from "../../domain/auth/device-sign-in.js";
import { html } from "../../lib/html.js";
import { describeDevice } from "../../lib/user-agent.js";
import { layout } from "./views.js";

/** `/device`: the code a device shows, typed (or prefilled from its link). */
export function deviceCodePage(o: { code?: string; alert?: string }): string {
  return layout(
    "Sign in a device",
    html`<h1>Sign in a device</h1>
${o.alert ? html`<p class="alert" role="alert">${o.alert}</p>` : ""}
<form class="card" method="get" action="/device">
<div class="field"><label for="f-user_code">Code shown on the device</label>
<input id="f-user_code" name="user_code" type="text" autocomplete="off" autocapitalize="characters" required maxlength="16" placeholder="ABCD-EFGH"${o.code ? html` value="${o.code}"` : ""} autofocus></div>
<button type="submit">Continue</button>
</form>`,
  );
}

/** What is asking to sign in, with approve and deny. */
export function deviceApprovalPage(o: { grant: DeviceGrant; email: string }): string {
  const code = formatUserCode(o.grant.userCode);
  const form = (decision: "approve" | "deny", label: string, cls: string) =>
    html`<form class="inline" method="post" action="/device">
<input type="hidden" name="user_code" value="${code}">
<input type="hidden" name="decision" value="${decision}">
<button type="submit" class="${cls}">${label}</button>
</form>`;
  return layout(
    "Sign in a device",
    html`<h1>Sign in a device?</h1>
<p><strong>${o.grant.clientName}</strong> (${describeDevice(o.grant.userAgent)}, from ${o.grant.ip || "an unknown address"}) asks to be signed in as <strong>${o.email}</strong>.</p>
<p>Code <strong>${code}</strong>: approve only if your device shows this same code and you started this sign-in yourself.</p>
<div class="actions">${form("approve", "Approve", "")} ${form("deny", "Deny", "secondary")}</div>`,
  );
}

/** The end of an approval. */
export function deviceDonePage(o: { approved: boolean }): string {
  return layout(
    "Sign in a device",
    html`<h1>${o.approved ? "Device signed in" : "Sign-in denied"}</h1>
<p class="notice" role="status">${o.approved ? "You can return to your device: it is signed in. It is listed with your sessions, where you can sign it out." : "The device was not signed in."}</p>
<p><a href="/account">Your account</a></p>`,
  );
}
