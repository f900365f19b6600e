import { html, SafeHtml } from "../../lib/html.js";
import { type Errors, layout } from "./views.js";

/**
 * The `otpauth://` URI as an inline SVG QR code: drawn here, so the page needs no image from another
 * origin and no `data:` URI, and it has no style attribute for the CSP to refuse.
 */
export async function qrSvg(uri: string): Promise<SafeHtml> {
  // Loaded on the first set-up, not at start-up: most processes never draw a QR code.
  const { default: QRCode } = await import("qrcode");
  const svg = await QRCode.toString(uri, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  return new SafeHtml(
    svg.trim().replace("<svg ", '<svg role="img" aria-label="QR code for your authenticator app" '),
  );
}

/** Groups of four characters, as authenticator apps show a key typed by hand. */
const grouped = (secret: string) => secret.replace(/(.{4})(?=.)/g, "$1 ");

/** The first step of turning TOTP on: the QR code, the key to type instead, and the first code. */
export function totpSetupPage(o: { secret: string; qr: SafeHtml; errors?: Errors }): string {
  const error = o.errors?.code;
  return layout(
    "Set up an authenticator app",
    html`<h1>Set up an authenticator app</h1>
<section aria-labelledby="scan-title">
<h2 id="scan-title">1. Scan this code with your authenticator app</h2>
<div class="qr">${o.qr}</div>
<p>Or type this key: <code id="totp-secret">${grouped(o.secret)}</code></p>
</section>
<form class="card" method="post" action="/account/mfa/totp/confirm" novalidate>
<h2>2. Enter the code it shows</h2>
<div class="field">
<label for="f-code">Code from your authenticator app</label>
<input id="f-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" required autofocus${
      error ? html` aria-invalid="true" aria-describedby="f-code-error"` : ""
    }>
${error ? html`<p class="error" id="f-code-error">${error}</p>` : ""}
</div>
<button type="submit">Turn on</button>
</form>
<p><a href="/account">Cancel</a></p>`,
  );
}

/** Ten recovery codes, shown this once (the response is never stored: Cache-Control no-store). */
export function recoveryCodesPage(o: { codes: string[]; turnedOn: boolean }): string {
  return layout(
    "Your recovery codes",
    html`<h1>Your recovery codes</h1>
${o.turnedOn ? html`<p class="notice" role="status">Two-factor sign-in is on.</p>` : ""}
<p>Keep these codes somewhere safe: each one signs you in once if you lose your authenticator app. They are not shown again; any earlier codes no longer work.</p>
<ul id="recovery-codes" class="codes">
${o.codes.map((c) => html`<li><code>${c}</code></li>`)}
</ul>
<p><a href="/account">Back to your account</a></p>`,
  );
}

/** "Turn off the authenticator app": what it means and a button. */
export function totpOffPage(): string {
  return layout(
    "Turn off the authenticator app",
    html`<h1>Turn off the authenticator app</h1>
<form class="card" method="post" action="/account/mfa/totp/off">
<p>Signing in will no longer ask for a code from your authenticator app, and your recovery codes stop working.</p>
<button type="submit" class="danger">Turn off</button>
</form>
<p><a href="/account">Cancel</a></p>`,
  );
}
