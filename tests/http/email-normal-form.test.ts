import request from "supertest";
import { describe, expect, it } from "vitest";
import { canonicalEmail } from "../../shared/email.js";
import { uniquePrefix } from "../helpers/app.js";
import { login, registerUser, TEST_PASSWORD, testApp } from "../helpers/fixtures.js";

describe("one normal form for an email", () => {
  it.each([
    ["José@Example.COM", "josé@example.com"],
    ["Jose\u0301@example.com", "josé@example.com"], // NFD → NFC
    [" Ann@Example.com ", "ann@example.com"],
    ["anna@Bücher.de", "anna@xn--bcher-kva.de"], // IDN → punycode
    ["anna@xn--bcher-kva.de", "anna@xn--bcher-kva.de"],
    ["taro@例え.jp", "taro@xn--r8jz45g.jp"], // Han + Hiragana: one writing system
    ["STRASSE@x.de", "strasse@x.de"],
    ["straße@x.de", "straße@x.de"], // simple lower-casing: never folded into "strasse"
  ])("%s → %s", (input, expected) => {
    expect(canonicalEmail(input)).toEqual({ ok: true, email: expected });
  });

  it.each([
    ["a zero-width space in the domain", "eve@ex\u200bample.com"],
    ["a zero-width joiner in the local part", "e\u200dve@example.com"],
    ["a BOM inside", "eve\ufeff@example.com"],
    ["a right-to-left override", "eve@example\u202e.com"],
    ["a soft hyphen", "eve@exam\u00adple.com"],
    ["a Hangul filler", "eve\u3164@example.com"],
    ["a variation selector", "eve@examp\ufe0fle.com"],
    ["a fullwidth letter in the domain", "eve@ｅxample.com"],
    ["a fullwidth local part", "ｅｖｅ@example.com"],
    ["a ligature", "eve@ﬁnance.com"],
    ["a Cyrillic а among Latin letters", "eve@pаypal.com"],
    ["a Greek ο among Latin letters", "eve@gοogle.com"],
    ["the same, given in punycode", "eve@xn--pypal-4ve.com"],
  ])("refuses %s", (_name, input) => {
    expect(canonicalEmail(input).ok).toBe(false);
  });
});

describe("registration and login use the normal form", () => {
  it("NFC and NFD spellings, any case, are one account; look-alikes are refused with email_refused", async () => {
    const t = await testApp();
    const local = `jose${uniquePrefix()}`;
    const nfc = `${local}é@Example.com`;
    const nfd = `${local}e\u0301@EXAMPLE.com`;
    const user = await registerUser(t, { email: nfc });
    expect(user.res.body.user.email).toBe(`${local}é@example.com`);

    // (The same password within a minute would count as a retried registration and log in.)
    const again = await request(t.app)
      .post("/auth/register")
      .send({ email: nfd, password: "another password" });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("email_taken");
    await login(t, nfd); // the same account

    for (const email of [`${local}@ex\u200bample.com`, `${local}@ｅxample.com`, `${local}@pаypal.com`]) {
      const res = await request(t.app).post("/auth/register").send({ email, password: TEST_PASSWORD });
      expect(res.status, email).toBe(400);
      expect(res.body.error).toMatchObject({ code: "email_refused", field: "email" });
    }
    const page = await request(t.app)
      .post("/register")
      .type("form")
      .send({ email: `${local}@ex\u200bample.com`, password: TEST_PASSWORD });
    expect(page.status).toBe(400);
    expect(page.text).toContain("invisible characters");
  });

  it("an IDN domain is stored in punycode, so a domain rule names it once", async () => {
    const t = await testApp();
    const user = await registerUser(t, { email: `anna-${uniquePrefix()}@Bücher.de` });
    expect(user.res.body.user.email).toMatch(/@xn--bcher-kva\.de$/);
  });
});
