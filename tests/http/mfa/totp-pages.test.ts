import { generate } from "otplib";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../helpers/app.js";
import { ageAuthentication, registerUser, testApp } from "../../helpers/fixtures.js";
import { sessionIdOf } from "../../helpers/session.js";

let t: TestApp;
beforeAll(async () => {
  t = await testApp({ env: { RATE_LIMIT_LOGIN_LIMIT: "1000", REAUTH_MAX_AGE_SECONDS: "300" } });
});

/** What a browser sends with a form submitted from one of our own pages, and from another site. */
const SAME_ORIGIN = { "Sec-Fetch-Site": "same-origin", Accept: "text/html" };
const CROSS_SITE = { "Sec-Fetch-Site": "cross-site", Accept: "text/html" };

const code = (secret: string) => generate({ secret, epoch: Math.floor(Date.now() / 1000) });
const post = (path: string, cookie: string, body: Record<string, string> = {}, headers = SAME_ORIGIN) =>
  request(t.app).post(path).set(headers).set("Cookie", cookie).type("form").send(body);
const page = (path: string, cookie: string) => request(t.app).get(path).set("Cookie", cookie);
const status = async (cookie: string) => (await page("/auth/mfa", cookie)).body;
const codesOn = (html: string) => [...html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]);
const secretOn = (html: string) => /id="totp-secret">([^<]+)</.exec(html)?.[1]?.replace(/\s/g, "") ?? "";

/** From the account page's button to the setup page: its HTML and the secret it shows. */
async function startSetup(cookie: string) {
  const started = await post("/account/mfa/totp/setup", cookie);
  expect(started.status).toBe(303);
  expect(started.headers.location).toBe("/account/mfa/totp");
  const setup = await page("/account/mfa/totp", cookie);
  expect(setup.status).toBe(200);
  return { html: setup.text, headers: setup.headers, secret: secretOn(setup.text) };
}

describe("the authenticator app on the account page", () => {
  it("sets up with an SVG QR code from this origin and a first code, then shows ten codes once", async () => {
    const { cookie } = await registerUser(t);
    const account = await page("/account", cookie);
    expect(account.text).toContain('action="/account/mfa/totp/setup"');
    expect(account.text).toContain("Set up an authenticator app");

    const setup = await startSetup(cookie);
    expect(setup.html).toMatch(/<div class="qr"><svg [^>]*role="img"[^>]*viewBox=/);
    expect(setup.html).not.toMatch(/data:/i);
    expect(setup.html).not.toMatch(/<script(?![^>]*\ssrc=)/);
    expect(setup.html).not.toMatch(/\sstyle=/);
    expect(setup.headers["content-security-policy"]).toContain("img-src 'self'");
    expect(setup.headers["content-security-policy"]).not.toContain("unsafe-inline");
    expect(setup.secret).toMatch(/^[A-Z2-7]{32}$/);
    // A reload shows the same secret: the app already scanned it.
    expect(secretOn((await page("/account/mfa/totp", cookie)).text)).toBe(setup.secret);

    const wrong = await post("/account/mfa/totp/confirm", cookie, { code: "000000" });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('aria-invalid="true"');
    expect(secretOn(wrong.text)).toBe(setup.secret);
    expect((await status(cookie)).totp).toBe(false);

    const confirmed = await post("/account/mfa/totp/confirm", cookie, { code: await code(setup.secret) });
    expect(confirmed.status).toBe(200);
    expect(confirmed.headers["cache-control"]).toBe("no-store");
    const codes = codesOn(confirmed.text);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(await status(cookie)).toMatchObject({ totp: true, recoveryCodesLeft: 10 });
    expect((await page("/account", cookie)).text).toContain("(10 recovery codes left)");
    // Nothing left to set up: the setup page and a second start lead back to the account page.
    expect((await page("/account/mfa/totp", cookie)).headers.location).toBe("/account");
    expect((await post("/account/mfa/totp/setup", cookie)).headers.location).toBe("/account");
  });

  it("serves every sign-in-method page under the strict CSP, with no inline script, style or handler", async () => {
    const { cookie, email, password } = await registerUser(t);
    const setup = await startSetup(cookie);
    const strict = (res: request.Response, what: string) => {
      expect(res.status, what).toBe(200);
      const csp = String(res.headers["content-security-policy"]);
      expect(csp, what).toMatch(/default-src 'none'/);
      expect(csp, what).toMatch(/script-src 'self'(;|$)/);
      expect(csp, what).not.toMatch(/unsafe-inline|unsafe-eval/);
      const html = res.text.replace(/<script src="\/assets\/[a-z]+\.[0-9a-f]{12}\.js" defer><\/script>/g, "");
      expect(html, what).not.toMatch(/<script|<style|\sstyle=|\son[a-z]+=/i);
    };
    strict(await page("/account/mfa/totp", cookie), "setup");
    strict(
      await post("/account/mfa/totp/confirm", cookie, { code: await code(setup.secret) }),
      "recovery codes",
    );
    strict(await page("/account", cookie), "account with sign-in methods");
    strict(await post("/account/mfa/recovery-codes", cookie), "regenerated recovery codes");
    strict(await page("/account/mfa/totp/off", cookie), "turn off");
    strict(await page("/account/delete", cookie), "delete my account");
    strict(await page("/account/confirm?next=%2Faccount", cookie), "confirm it is you");
    const pending = await request(t.app).post("/auth/login").send({ email, password });
    strict(
      await page("/login/mfa", String(pending.headers["set-cookie"]).split(";")[0] as string),
      "second step",
    );
  });

  it("regenerates the recovery codes (the old ones stop working) and turns off after asking", async () => {
    const { cookie } = await registerUser(t);
    const { secret } = await startSetup(cookie);
    const first = codesOn(
      (await post("/account/mfa/totp/confirm", cookie, { code: await code(secret) })).text,
    );
    expect((await page("/account", cookie)).text).toContain('action="/account/mfa/recovery-codes"');

    const again = await post("/account/mfa/recovery-codes", cookie);
    expect(again.status).toBe(200);
    expect(again.headers["cache-control"]).toBe("no-store");
    const second = codesOn(again.text);
    expect(second).toHaveLength(10);
    expect(second.some((c) => first.includes(c))).toBe(false);
    const old = await request(t.app)
      .post("/auth/mfa/verify")
      .set("Cookie", cookie)
      .send({ recoveryCode: first[0] });
    expect(old.status).toBe(401);

    const ask = await page("/account/mfa/totp/off", cookie);
    expect(ask.status).toBe(200);
    expect(ask.text).toContain('action="/account/mfa/totp/off"');
    const off = await post("/account/mfa/totp/off", cookie);
    expect(off.status).toBe(303);
    expect(off.headers.location).toBe("/account?done=totp-off");
    expect(await status(cookie)).toMatchObject({ totp: false, recoveryCodesLeft: 0 });
    expect((await page("/account?done=totp-off", cookie)).text).toContain(
      "The authenticator app was turned off.",
    );
  });

  it("asks 'confirm it is you' first when the last authentication is old, then comes back", async () => {
    const { cookie, password } = await registerUser(t);
    await ageAuthentication(t, cookie);
    const start = await post("/account/mfa/totp/setup", cookie);
    expect(start.status).toBe(303);
    expect(start.headers.location).toBe("/account/confirm?next=%2Faccount");
    expect((await page("/account/mfa/totp", cookie)).headers.location).toBe(
      "/account/confirm?next=%2Faccount%2Fmfa%2Ftotp",
    );
    expect((await status(cookie)).totp).toBe(false);

    const confirmed = await post("/account/confirm", cookie, { password, next: "/account" });
    expect(confirmed.headers.location).toBe("/account");
    const { secret } = await startSetup(cookie);
    await post("/account/mfa/totp/confirm", cookie, { code: await code(secret) });

    await ageAuthentication(t, cookie);
    expect((await post("/account/mfa/recovery-codes", cookie)).headers.location).toBe(
      "/account/confirm?next=%2Faccount",
    );
    expect((await post("/account/mfa/totp/off", cookie)).headers.location).toBe(
      "/account/confirm?next=%2Faccount%2Fmfa%2Ftotp%2Foff",
    );
    expect(await status(cookie)).toMatchObject({ totp: true, recoveryCodesLeft: 10 });
  });

  it("refuses each form posted from another site, changing nothing", async () => {
    const { cookie } = await registerUser(t);
    expect((await post("/account/mfa/totp/setup", cookie, {}, CROSS_SITE)).status).toBe(403);
    expect((await page("/account/mfa/totp", cookie)).headers.location).toBe("/account");

    const { secret } = await startSetup(cookie);
    const forged = await post("/account/mfa/totp/confirm", cookie, { code: await code(secret) }, CROSS_SITE);
    expect(forged.status).toBe(403);
    expect(forged.text).not.toMatch(/<li><code>/);
    expect((await status(cookie)).totp).toBe(false);

    await post("/account/mfa/totp/confirm", cookie, { code: await code(secret) });
    expect((await post("/account/mfa/recovery-codes", cookie, {}, CROSS_SITE)).status).toBe(403);
    expect((await post("/account/mfa/totp/off", cookie, {}, CROSS_SITE)).status).toBe(403);
    expect(await status(cookie)).toMatchObject({ totp: true, recoveryCodesLeft: 10 });
  });

  it("sends a visitor who is not signed in to the login page", async () => {
    for (const path of ["/account/mfa/totp", "/account/mfa/totp/off"]) {
      const res = await request(t.app).get(path);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe("/login");
    }
  });
});
