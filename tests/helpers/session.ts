import type { Response } from "supertest";

/** The `name=value` pair of the session cookie a response sets, if any. */
export function sessionCookie(res: Response, name: string): string | undefined {
  const cookies = ([] as string[]).concat(res.headers["set-cookie"] ?? []);
  return cookies.find((c) => c.startsWith(`${name}=`))?.split(";")[0];
}

/** The full Set-Cookie line for the session cookie. */
export function sessionCookieLine(res: Response, name: string): string | undefined {
  const cookies = ([] as string[]).concat(res.headers["set-cookie"] ?? []);
  return cookies.find((c) => c.startsWith(`${name}=`));
}

/** The session id inside a signed cookie value (`s:<id>.<signature>`). */
export function sessionIdOf(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1));
  return value.slice(2, value.lastIndexOf("."));
}

let counter = 0;
export function uniqueEmail(tag = "user"): string {
  counter++;
  return `${tag}-${process.pid}-${Date.now()}-${counter}@example.com`;
}
