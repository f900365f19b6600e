import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const hashed = (name: string, body: string) =>
  `/assets/${name}.${createHash("sha256").update(body).digest("hex").slice(0, 12)}.js`;

/** @simplewebauthn/browser's own bundle, served from this origin (`script-src 'self'`): no CDN. */
// The package exports only its modules; its browser bundle sits next to them (its `unpkg` file).
export const WEBAUTHN_BROWSER = readFileSync(
  join(
    dirname(createRequire(import.meta.url).resolve("@simplewebauthn/browser")),
    "../dist/bundle/index.umd.min.js",
  ),
  "utf8",
);
export const WEBAUTHN_BROWSER_PATH = hashed("webauthn", WEBAUTHN_BROWSER);

/**
 * The pages' passkey buttons: the only script they run. The pages work without it (every other action is
 * a plain form); a browser without WebAuthn never shows the buttons.
 */
export const PASSKEY_SCRIPT = `(() => {
  "use strict";
  const lib = window.SimpleWebAuthnBrowser;
  const supported = lib && lib.browserSupportsWebAuthn();
  for (const el of document.querySelectorAll("[data-passkey]")) el.hidden = !supported;
  if (!supported) return;
  const status = (message) => {
    const el = document.getElementById("passkey-status");
    if (el) el.textContent = message;
  };
  const post = async (path, body) => {
    const res = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    return { status: res.status, body: await res.json().catch(() => ({})) };
  };
  const failed = (answer) => status((answer.body.error && answer.body.error.message) || "That did not work. Try again.");
  const next = () => {
    const field = document.querySelector("input[name=next]");
    return field && field.value ? field.value : "/account";
  };

  const finish = async (response) => {
    const done = await post("/auth/passkeys/login", { response });
    if (done.status === 200 && done.body.mfaRequired) return location.assign("/login/mfa");
    if (done.status === 200) return location.assign(next());
    failed(done);
  };

  const signIn = document.getElementById("passkey-sign-in");
  // On the second step the passkey is the factor, sent with the "trust this device" choice.
  const secondStep = signIn && signIn.dataset.step === "second";
  if (signIn) signIn.addEventListener("click", async () => {
    const options = await post("/auth/passkeys/login/options");
    if (options.status !== 200) return failed(options);
    let response;
    try {
      response = await lib.startAuthentication({ optionsJSON: options.body });
    } catch {
      return status("No passkey was used.");
    }
    if (!secondStep) return finish(response);
    const trust = document.getElementById("f-trust");
    const done = await post("/auth/mfa/verify", { passkey: response, trustDevice: !!(trust && trust.checked) });
    if (done.status === 200) return location.assign(next());
    failed(done);
  });

  // Conditional UI: the browser offers its passkeys in the email field's autofill. Started once, when
  // the field has focus (each start asks for a challenge, counted like a login); the button's own request
  // cancels it.
  const username = document.querySelector("input[autocomplete~=webauthn]");
  const autofill = lib.browserSupportsWebAuthnAutofill ? lib.browserSupportsWebAuthnAutofill() : Promise.resolve(false);
  let conditional = false;
  const startConditional = async () => {
    if (conditional || !(await autofill.catch(() => false))) return;
    conditional = true;
    const options = await post("/auth/passkeys/login/options");
    if (options.status !== 200) return;
    let response;
    try {
      response = await lib.startAuthentication({ optionsJSON: options.body, useBrowserAutofill: true });
    } catch {
      return; // cancelled by the button, or no passkey chosen
    }
    finish(response);
  };
  if (username) {
    username.addEventListener("focus", startConditional);
    if (document.activeElement === username) startConditional();
  }

  const add = document.getElementById("passkey-add");
  if (add) add.addEventListener("click", async () => {
    const field = document.getElementById("f-passkey-name");
    const name = (field && field.value.trim()) || "Passkey";
    const options = await post("/auth/passkeys/register/options");
    if (options.status === 403 && options.body.error && options.body.error.code === "reauthentication_required") {
      return location.assign("/account/confirm?next=%2Faccount");
    }
    if (options.status !== 200) return failed(options);
    let response;
    try {
      response = await lib.startRegistration({ optionsJSON: options.body });
    } catch {
      return status("No passkey was created.");
    }
    const done = await post("/auth/passkeys/register", { response, name });
    if (done.status === 201) return location.assign("/account?done=passkey-added");
    failed(done);
  });
})();
`;
export const PASSKEY_SCRIPT_PATH = hashed("passkeys", PASSKEY_SCRIPT);
