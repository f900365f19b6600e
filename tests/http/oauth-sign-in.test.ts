import { randomUUID } from "node:crypto";
import request from "supertest";
import type TestAgent from "supertest/lib/agent.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app.js";
import { type FakeGithub, startFakeGithub } from "../helpers/fake-github.js";
import { registerUser, testApp, testDatabase } from "../helpers/fixtures.js";
import { authorize, startIssuer, type TestIssuer } from "../helpers/oidc-issuer.js";

// Two real OpenID Providers on loopback: `a` (its client secret being rotated on our side) and `b` (in
// OIDC_TRUSTED_FOR_LINKING, rotating its signing key mid-test); `c` goes down mid-test; `down` never answers.
const PUBLIC_URL = "http://localhost:3999";
const callbackOf = (name: string) => () => `${PUBLIC_URL}/auth/oauth/${name}/callback`;
const ID_TOKEN_TTL = 120; // seconds

let a: TestIssuer;
let b: TestIssuer;
let c: TestIssuer;
let github: FakeGithub;
let t: TestApp;
let offset = 0; // ms this server's clock runs ahead of the machine's

beforeAll(async () => {
  github = await startFakeGithub();
  [a, b, c] = await Promise.all([
    startIssuer({ redirectUri: callbackOf("a"), idTokenTtlSeconds: ID_TOKEN_TTL }),
    startIssuer({ redirectUri: callbackOf("b"), idTokenTtlSeconds: ID_TOKEN_TTL }),
    startIssuer({ redirectUri: callbackOf("c") }),
  ]);
  t = await testApp({
    now: () => Date.now() + offset,
    env: {
      PUBLIC_URL,
      OIDC_A_ISSUER: a.url,
      OIDC_A_CLIENT_ID: a.clientId,
      // The stale secret first: the provider refuses it and the next one redeems the code.
      OIDC_A_CLIENT_SECRET: `stale-secret,${a.clientSecret}`,
      OIDC_B_ISSUER: b.url,
      OIDC_B_CLIENT_ID: b.clientId,
      OIDC_B_CLIENT_SECRET: b.clientSecret,
      OIDC_C_ISSUER: c.url,
      OIDC_C_CLIENT_ID: c.clientId,
      OIDC_C_CLIENT_SECRET: c.clientSecret,
      OIDC_DOWN_ISSUER: "http://127.0.0.1:9",
      OIDC_DOWN_CLIENT_ID: "x",
      OIDC_DOWN_CLIENT_SECRET: "x",
      OIDC_TRUSTED_FOR_LINKING: "b",
      GITHUB_CLIENT_ID: github.clientId,
      GITHUB_CLIENT_SECRET: `stale-secret,${github.clientSecret}`,
      GITHUB_URL: github.url,
      GITHUB_API_URL: github.url,
      OIDC_TIMEOUT_MS: "1000",
      RATE_LIMIT_LOGIN_LIMIT: "1000",
    },
  });
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), c?.close(), github?.close()]);
});
beforeEach(() => {
  offset = 0;
});

const uniqueEmail = () => `oidc-${randomUUID().slice(0, 12)}@example.com`;

/** A person at `issuer` with this address. */
function person(issuer: TestIssuer, email: string | undefined, verified: boolean): string {
  const subject = `sub-${randomUUID()}`;
  issuer.accounts.set(subject, { email, email_verified: verified });
  return subject;
}

/** Starts a sign-in at `provider` in `agent`'s browser and signs in there as `subject`; the callback URL. */
async function atProvider(agent: TestAgent, provider: string, subject: string | "cancel", next = "/after") {
  const start = await agent.get(`/auth/oauth/${provider}?next=${encodeURIComponent(next)}`).expect(302);
  const back = await authorize(
    start.headers.location as string,
    subject === "cancel" ? "cancel" : { subject },
  );
  return `${back.pathname}${back.search}`;
}

const callback = (agent: TestAgent, path: string) => agent.get(path).set("Accept", "application/json");

async function me(agent: TestAgent) {
  return (await agent.get("/auth/me")).body.user as
    | { id: string; email: string; emailVerified: boolean }
    | undefined;
}

async function identitiesOf(subject: string) {
  const db = (await testDatabase()).db;
  return (await db.query<{ user_id: string }>("SELECT user_id FROM identities WHERE subject = $1", [subject]))
    .rows;
}

async function userCount(email: string) {
  const db = (await testDatabase()).db;
  return Number(
    (await db.query<{ n: string }>("SELECT count(*) AS n FROM users WHERE email = $1", [email])).rows[0]?.n,
  );
}

describe("sign-in at an OpenID Connect provider", () => {
  it("creates a verified account for a new verified address, then signs the same person into it again", async () => {
    const email = uniqueEmail();
    const subject = person(a, email, true);
    const browser = request.agent(t.app);
    const started = Date.now();
    const res = await callback(browser, await atProvider(browser, "a", subject));
    const roundTripMs = Date.now() - started;
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe("/after");
    const user = await me(browser);
    expect(user).toMatchObject({ email, emailVerified: true });
    expect(await identitiesOf(subject)).toEqual([{ user_id: user?.id }]);
    console.info(JSON.stringify({ measurement: "provider sign-in round trip on loopback", ms: roundTripMs }));

    const again = request.agent(t.app);
    const warm = Date.now();
    expect((await callback(again, await atProvider(again, "a", subject))).status).toBe(302);
    console.info(JSON.stringify({ measurement: "warm provider sign-in round trip", ms: Date.now() - warm }));
    expect((await me(again))?.id).toBe(user?.id);
    // Forward auth tells the backend which provider opened the session; a password session has none.
    const verify = await again.get("/auth/verify").expect(200);
    expect(verify.headers["x-auth-provider"]).toBe("a");
    const password = await registerUser(t);
    const plain = await request(t.app).get("/auth/verify").set("Cookie", password.cookie).expect(200);
    expect(plain.headers["x-auth-provider"]).toBeUndefined();
    expect(await userCount(email)).toBe(1);
  });

  it("refuses a replayed callback, a wrong state and a callback in another browser; nothing is created", async () => {
    const email = uniqueEmail();
    const subject = person(a, email, true);
    const browser = request.agent(t.app);
    const path = await atProvider(browser, "a", subject);
    const forged = path.replace(/state=[^&]+/, "state=forged");
    const wrong = await callback(browser, forged);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.code).toBe("oauth_state_mismatch");
    // The flow is used up by the forged attempt: the real answer is refused too.
    const replay = await callback(browser, path);
    expect(replay.body.error.code).toBe("oauth_flow_expired");
    const otherBrowser = await request(t.app).get(path).set("Accept", "text/html");
    expect(otherBrowser.status).toBe(400);
    expect(otherBrowser.text).toContain("This sign-in expired or was already completed");
    expect(await userCount(email)).toBe(0);
    expect(await me(browser)).toBeUndefined();

    const fresh = request.agent(t.app);
    const ok = await atProvider(fresh, "a", subject);
    expect((await callback(fresh, ok)).status).toBe(302);
    const replayed = await callback(fresh, ok);
    expect(replayed.status).toBe(400);
    expect(replayed.body.error.code).toBe("oauth_flow_expired");
  });

  it("tells a disabled account's owner so after the provider proved who they are, and records it", async () => {
    const email = uniqueEmail();
    const subject = person(a, email, true);
    const first = request.agent(t.app);
    expect((await callback(first, await atProvider(first, "a", subject))).status).toBe(302);
    const id = (await me(first))?.id as string;
    await t.services.users.setDisabled(id, true);

    const again = request.agent(t.app);
    const refused = await callback(again, await atProvider(again, "a", subject));
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("account_disabled");
    expect(await me(again)).toBeUndefined();
    await t.services.events.settled();
    const events = await t.services.events.recent(id);
    expect(events.find((e) => e.event === "login_refused_disabled")).toMatchObject({ provider: "a" });
  });

  it("refuses an expired flow, a cancelled sign-in, an unknown provider and a provider that is down", async () => {
    const email = uniqueEmail();
    const subject = person(a, email, true);
    const late = request.agent(t.app);
    const path = await atProvider(late, "a", subject);
    offset = 601_000; // past OIDC_FLOW_TTL_SECONDS
    expect((await callback(late, path)).body.error.code).toBe("oauth_flow_expired");
    offset = 0;

    const cancelled = request.agent(t.app);
    const denied = await callback(cancelled, await atProvider(cancelled, "a", "cancel"));
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("oauth_denied");

    expect((await request(t.app).get("/auth/oauth/nope").set("Accept", "application/json")).status).toBe(404);
    const down = await request(t.app).get("/auth/oauth/down").set("Accept", "application/json");
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe("oauth_provider_unavailable");
    expect(down.headers["retry-after"]).toBe("5");

    // The provider goes down between the redirect and the callback.
    const stranded = request.agent(t.app);
    const pending = await atProvider(stranded, "c", person(c, uniqueEmail(), true));
    await c.close();
    const res = await callback(stranded, pending);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("oauth_provider_unavailable");
    expect(await userCount(email)).toBe(0);
  });

  it("follows the provider's signing key rotation", async () => {
    const subject = person(b, uniqueEmail(), true);
    const first = request.agent(t.app);
    expect((await callback(first, await atProvider(first, "b", subject))).status).toBe(302);
    b.rotateKey();
    offset = 11_000; // the keys are fetched again at most every 10 s
    const second = request.agent(t.app);
    const res = await callback(second, await atProvider(second, "b", subject));
    expect(res.status).toBe(302);
    expect((await me(second))?.id).toBe((await me(first))?.id);
  });

  it("accepts clock skew within OIDC_CLOCK_TOLERANCE_SECONDS (30) and refuses it beyond", async () => {
    const attempt = async (skewSeconds: number) => {
      const browser = request.agent(t.app);
      const path = await atProvider(browser, "a", person(a, uniqueEmail(), true));
      offset = skewSeconds * 1000;
      const res = await callback(browser, path);
      offset = 0;
      return res;
    };
    // Ahead of the provider: its ID token (valid 120 s) looks old.
    expect((await attempt(ID_TOKEN_TTL + 10)).status).toBe(302);
    const expired = await attempt(ID_TOKEN_TTL + 40);
    expect(expired.status).toBe(502);
    expect(expired.body.error.code).toBe("oauth_provider_error");
    // Behind it: the token looks issued in the future.
    expect((await attempt(-20)).status).toBe(302);
    expect((await attempt(-60)).body.error.code).toBe("oauth_provider_error");
  });
});

describe("health and metrics", () => {
  it("lists each provider on /health/complete as a check that is never required, and counts outcomes", async () => {
    const res = await request(t.app).get("/health/complete").set("Accept", "application/json");
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("degraded"); // `down` never answers; sign-in with passwords is unaffected
    expect(res.body.checks).toMatchObject({
      oauth_a: { status: "healthy" },
      oauth_b: { status: "healthy" },
      oauth_down: { status: "unhealthy" },
      oauth_github: { status: "healthy" },
    });
    const metrics = await t.services.metrics.registry.getSingleMetricAsString("oauth_sign_ins_total");
    expect(metrics).toMatch(/oauth_sign_ins_total\{provider="a",outcome="created"\} [1-9]/);
    expect(metrics).toMatch(/oauth_sign_ins_total\{provider="a",outcome="state_mismatch"\} [1-9]/);
  });
});

describe("linking: an address alone never hands over an account", () => {
  it("refuses an attacker whose provider account has the victim's address, unverified or untrusted", async () => {
    const victim = await registerUser(t);
    const unverified = request.agent(t.app);
    const res1 = await callback(
      unverified,
      await atProvider(unverified, "a", person(a, victim.email, false)),
    );
    expect(res1.status).toBe(403);
    expect(res1.body.error.code).toBe("oauth_email_unverified");

    const untrusted = request.agent(t.app);
    const subject = person(a, victim.email, true);
    const res2 = await callback(untrusted, await atProvider(untrusted, "a", subject));
    expect(res2.status).toBe(409);
    expect(res2.body.error.code).toBe("oauth_link_required");
    expect(await me(untrusted)).toBeUndefined();
    expect(await identitiesOf(subject)).toEqual([]);

    // Nor does an unverified address create an account (it would squat the address).
    const squatter = request.agent(t.app);
    const fresh = uniqueEmail();
    expect((await callback(squatter, await atProvider(squatter, "a", person(a, fresh, false)))).status).toBe(
      403,
    );
    expect(await userCount(fresh)).toBe(0);
  });

  it("links a trusted provider's verified address only to an account whose address is verified too", async () => {
    const owner = await registerUser(t);
    const subject = person(b, owner.email, true);
    const before = request.agent(t.app);
    const refused = await callback(before, await atProvider(before, "b", subject));
    expect(refused.body.error.code).toBe("oauth_link_required");

    const record = await t.services.users.findByEmail(owner.email);
    await t.services.users.markEmailVerified(record?.id as string, owner.email);
    const browser = request.agent(t.app);
    expect((await callback(browser, await atProvider(browser, "b", subject))).status).toBe(302);
    expect((await me(browser))?.id).toBe(record?.id);
    expect(await identitiesOf(subject)).toEqual([{ user_id: record?.id }]);
  });

  it("links any provider account to its signed-in owner, and refuses one another account has", async () => {
    const owner = await registerUser(t);
    const browser = request.agent(t.app);
    browser.set("Cookie", owner.cookie);
    const subject = person(a, "someone-else@example.org", false);
    const start = await browser.post("/auth/oauth/a/link").type("form").send({}).expect(303);
    const back = await authorize(start.headers.location as string, { subject });
    const linked = await callback(browser, `${back.pathname}${back.search}`);
    expect(linked.status).toBe(302);
    expect(linked.headers.location).toBe("/account");
    const ownerId = (await me(browser))?.id;
    expect(await identitiesOf(subject)).toEqual([{ user_id: ownerId }]);

    // Now a way in to the owner's account, whatever its address says.
    const later = request.agent(t.app);
    expect((await callback(later, await atProvider(later, "a", subject))).status).toBe(302);
    expect((await me(later))?.id).toBe(ownerId);

    const other = await registerUser(t);
    const thief = request.agent(t.app);
    thief.set("Cookie", other.cookie);
    const again = await thief.post("/auth/oauth/a/link").type("form").send({}).expect(303);
    const back2 = await authorize(again.headers.location as string, { subject });
    const taken = await callback(thief, `${back2.pathname}${back2.search}`);
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe("identity_taken");
    expect(await identitiesOf(subject)).toEqual([{ user_id: ownerId }]);
  });
});

describe("the account's providers", () => {
  it("lists, links and unlinks them, never the last way in of an account without a password", async () => {
    const email = uniqueEmail();
    const first = person(a, email, true);
    const browser = request.agent(t.app);
    expect((await callback(browser, await atProvider(browser, "a", first))).status).toBe(302);
    const list = async () => (await browser.get("/auth/identities").expect(200)).body.identities;
    expect(await list()).toMatchObject([{ provider: "a", subject: first, email }]);

    const page = await browser.get("/account").set("Accept", "text/html").expect(200);
    expect(page.text).toContain("Sign-in providers");
    expect(page.text).toContain('action="/auth/oauth/b/link"');
    const last = await browser.delete(`/auth/identities/a/${first}`);
    expect(last.status).toBe(409);
    expect(last.body.error.code).toBe("last_sign_in_method");
    const refusedPage = await browser
      .post("/account/identities/unlink")
      .type("form")
      .send({ provider: "a", subject: first });
    expect(refusedPage.status).toBe(409);
    expect(refusedPage.text).toContain("This is the last way to sign in");

    const second = person(b, uniqueEmail(), false);
    const start = await browser.post("/auth/oauth/b/link").type("form").send({}).expect(303);
    const back = await authorize(start.headers.location as string, { subject: second });
    expect((await callback(browser, `${back.pathname}${back.search}`)).status).toBe(302);
    expect((await list()).map((i: { provider: string }) => i.provider)).toEqual(["a", "b"]);

    await browser.delete(`/auth/identities/a/${first}`).expect(204);
    expect((await list()).map((i: { provider: string }) => i.provider)).toEqual(["b"]);
    // The unlinked identity is a stranger now: its address has an account, so it must be linked again.
    const stranger = request.agent(t.app);
    expect((await callback(stranger, await atProvider(stranger, "a", first))).body.error.code).toBe(
      "oauth_link_required",
    );
    // A password account signs in with a password: it has no identity to lose.
    const password = await registerUser(t);
    expect(
      (await request(t.app).delete(`/auth/identities/a/${first}`).set("Cookie", password.cookie)).status,
    ).toBe(404);
  });
});

describe("sign-in with GitHub (OAuth 2.0, its user and emails endpoints)", () => {
  const viaGithub = async (agent: TestAgent) => {
    const start = await agent.get("/auth/oauth/github").expect(302);
    const approved = await fetch(start.headers.location as string, { redirect: "manual" });
    const back = new URL(approved.headers.get("location") as string);
    return callback(agent, `${back.pathname}${back.search}`);
  };

  it("signs in with the verified primary address, by GitHub's numeric id", async () => {
    const email = uniqueEmail();
    const id = Math.floor(Math.random() * 1e9);
    github.next = {
      id,
      emails: [
        { email: "old@example.org", primary: false, verified: true },
        { email, primary: true, verified: true },
      ],
    };
    const browser = request.agent(t.app);
    expect((await viaGithub(browser)).status).toBe(302);
    expect(await me(browser)).toMatchObject({ email, emailVerified: true });
    expect(await identitiesOf(String(id))).toHaveLength(1);

    // The address changed at GitHub: the id still finds the account.
    github.next = { id, emails: [{ email: uniqueEmail(), primary: true, verified: true }] };
    const again = request.agent(t.app);
    expect((await viaGithub(again)).status).toBe(302);
    expect((await me(again))?.email).toBe(email);
  });

  it("refuses an unverified primary address and a declined authorization", async () => {
    github.next = {
      id: Math.floor(Math.random() * 1e9),
      emails: [{ email: uniqueEmail(), primary: true, verified: false }],
    };
    const unverified = await viaGithub(request.agent(t.app));
    expect(unverified.body.error.code).toBe("oauth_email_unverified");
    github.next = "deny";
    const denied = await viaGithub(request.agent(t.app));
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("oauth_denied");
  });
});
