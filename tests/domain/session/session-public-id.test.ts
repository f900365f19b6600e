import request from "supertest";
import { describe, expect, it } from "vitest";
import { type TestApp, uniquePrefix } from "../../helpers/app.js";
import { login, registerUser, testApp } from "../../helpers/fixtures.js";
import { sessionCookie } from "../../helpers/session.js";

const OLD = "o".repeat(40);
const NEW = "n".repeat(40);

async function listed(t: TestApp, cookie: string): Promise<Array<{ id: string; current: boolean }>> {
  const res = await request(t.app).get("/auth/sessions").set("Cookie", cookie);
  expect(res.status).toBe(200);
  return res.body.sessions;
}

const ids = (sessions: Array<{ id: string }>) => sessions.map((s) => s.id).sort();

describe("public session ids across a SESSION_SECRET rotation", () => {
  it("stay the same while the new secret is added and after the old one is dropped; revoking by id still works", async () => {
    // Three deployments of one app (same Redis, same key prefix): old secret, both, new secret.
    const KEY_PREFIX = uniquePrefix();
    const before = await testApp({ env: { KEY_PREFIX, SESSION_SECRET: OLD } });
    // Every answer extends the session here, so the rolling cookie comes back at once (by default it is
    // re-sent, and so re-signed, once a tenth of the idle timeout has passed).
    const during = await testApp({
      env: { KEY_PREFIX, SESSION_SECRET: `${NEW},${OLD}`, SESSION_TOUCH_FRACTION: "0" },
    });
    const after = await testApp({ env: { KEY_PREFIX, SESSION_SECRET: NEW } });

    const user = await registerUser(before);
    const phone = await login(before, user.email);
    const seen = await listed(before, user.cookie);
    expect(seen).toHaveLength(2);

    // The old cookie still verifies; the rolling cookie comes back signed with the new secret.
    const res = await request(during.app).get("/auth/sessions").set("Cookie", user.cookie);
    expect(res.status).toBe(200);
    expect(ids(res.body.sessions)).toEqual(ids(seen));
    const resigned = sessionCookie(res, during.config.session.cookieName);
    expect(resigned).toBeTruthy();
    expect(resigned).not.toBe(user.cookie);

    // The old secret is gone: the re-signed cookie works and shows the very same ids.
    const now = await listed(after, resigned as string);
    expect(ids(now)).toEqual(ids(seen));
    const phoneId = seen.find((s) => !s.current)?.id as string;
    expect(now.find((s) => s.id === phoneId)?.current).toBe(false);
    const del = await request(after.app)
      .delete(`/auth/sessions/${phoneId}`)
      .set("Cookie", resigned as string);
    expect(del.status).toBe(204);
    expect(ids(await listed(after, resigned as string))).toEqual(ids(seen.filter((s) => s.id !== phoneId)));
    // The phone's cookie, signed with the old secret, no longer names a session anywhere.
    expect((await request(during.app).get("/auth/me").set("Cookie", phone.cookie)).status).toBe(401);
  });
});
