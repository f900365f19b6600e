import { html } from "../../lib/html.js";
import { type Errors, layout } from "./views.js";

/**
 * The second step of a sign-in: a code from the authenticator app, one recovery code, or a passkey; with
 * `trustDays`, the choice to skip it on this browser for that many days (the code form and the passkey).
 */
export function secondFactorPage(o: {
  next?: string;
  errors?: Errors;
  alert?: string;
  trustDays?: number;
  trustDevice?: boolean;
}): string {
  const errors = o.errors ?? {};
  const next = o.next ? html`<input type="hidden" name="next" value="${o.next}">` : "";
  const days = o.trustDays ?? 0;
  const trust =
    days > 0
      ? html`<div class="field">
<label><input type="checkbox" id="f-trust" name="trustDevice" value="true"${o.trustDevice ? html` checked` : ""}> Trust this device for ${String(days)} ${days === 1 ? "day" : "days"}</label>
</div>`
      : "";
  return layout(
    "Two-factor sign-in",
    html`<h1>Two-factor sign-in</h1>
${o.alert ? html`<p class="alert" role="alert">${o.alert}</p>` : ""}
<form class="card" method="post" action="/login/mfa" novalidate>
${next}
<div class="field">
<label for="f-code">Code from your authenticator app</label>
<input id="f-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" required autofocus${
      errors.code ? html` aria-invalid="true" aria-describedby="f-code-error"` : ""
    }>
${errors.code ? html`<p class="error" id="f-code-error">${errors.code}</p>` : ""}
</div>
${trust}
<button type="submit">Continue</button>
</form>
<form class="card" method="post" action="/login/mfa" novalidate>
${next}
<div class="field">
<label for="f-recovery">Or one of your recovery codes</label>
<input id="f-recovery" name="recoveryCode" type="text" autocomplete="off" required>
</div>
<button type="submit" class="secondary">Use a recovery code</button>
</form>
<div class="card" data-passkey hidden>
<button type="button" id="passkey-sign-in" data-step="second" class="secondary">Use a passkey</button>
<p id="passkey-status" aria-live="polite"></p>
</div>
<p><a href="/login">Start again</a></p>`,
    true,
  );
}
