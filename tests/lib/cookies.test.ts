import express from "express";
import session from "express-session";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { readCookie } from "../../server/lib/cookies.js";

describe("readCookie", () => {
  it("finds one cookie among others, and nothing when it is absent", () => {
    expect(readCookie("sid=s%3Aabc; device=d1.x.y.1.z; other=1", "device")).toBe("d1.x.y.1.z");
    expect(readCookie("sid=1", "device")).toBeUndefined();
    expect(readCookie("device", "device")).toBeUndefined();
    expect(readCookie("xdevice=1; devicex=2", "device")).toBeUndefined();
    expect(readCookie(undefined, "device")).toBeUndefined();
  });

  it("URL-decodes the value, keeps a malformed escape as sent, and drops one pair of quotes", () => {
    expect(readCookie("sid=s%3Aabc.def", "sid")).toBe("s:abc.def");
    expect(readCookie("sid=100%", "sid")).toBe("100%");
    expect(readCookie('sid="quoted%20value"', "sid")).toBe("quoted value");
    expect(readCookie('sid="', "sid")).toBe('"');
  });

  it("takes the first of two cookies with the same name and ignores spaces around name and value", () => {
    expect(readCookie("sid=first; sid=second", "sid")).toBe("first");
    expect(readCookie("a=1;  sid =  spaced\t; b=2", "sid")).toBe("spaced");
  });

  it("reads back what Express' res.cookie wrote", async () => {
    const value = "a b;c=d,é%";
    const app = express().get("/", (_req, res) => res.cookie("n", value).end());
    const header = (await request(app).get("/")).headers["set-cookie"]?.[0] ?? "";
    expect(readCookie(header.split(";")[0], "n")).toBe(value);
  });

  it("reads the session id express-session reads from the same header", async () => {
    const app = express()
      .use(
        session({ secret: "a-secret-long-enough-for-the-test-0123", resave: false, saveUninitialized: true }),
      )
      .get("/", (req, res) => res.json({ id: req.sessionID }));
    const first = await request(app).get("/");
    const cookie = first.headers["set-cookie"]?.[0]?.split(";")[0] ?? "";
    // A second, forged cookie of the same name after the real one: both readers take the first.
    const header = `${cookie}; connect.sid=s%3Aforged.sig`;
    const again = await request(app).get("/").set("Cookie", header);
    expect(again.body.id).toBe(first.body.id);
    expect(readCookie(header, "connect.sid")).toBe(decodeURIComponent(cookie.split("=")[1] ?? ""));
    expect(readCookie(header, "connect.sid")).toContain(`s:${first.body.id}.`);
  });
});
