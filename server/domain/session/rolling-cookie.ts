import { createHmac } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Request, RequestHandler, Response } from "express";
import type { Session } from "express-session";

/** A store that extends a session's expiry as it reads it, and says when it did. */
export interface ExtendingStore {
  wasExtended(session: object): boolean;
}

export function isExtendingStore(store: unknown): store is ExtendingStore {
  return typeof (store as Partial<ExtendingStore>).wasExtended === "function";
}

/** express-session's signed value: `s:` + the id + `.` + its HMAC-SHA256 (base64, no padding). */
function signedId(sid: string, secret: string): string {
  return `s:${sid}.${createHmac("sha256", secret).update(sid).digest("base64").replace(/=+$/, "")}`;
}

/**
 * The rolling cookie, re-sent only when the store extended the session (express-session runs with
 * `rolling: false`): the browser's expiry then follows the server's within SESSION_TOUCH_FRACTION, and
 * the other responses carry no Set-Cookie (no HMAC, no header). Install before express-session so this
 * runs once its own header hook has run: when express-session sets the cookie itself (a new or changed
 * session), nothing is added.
 */
export function rollingCookie(deps: {
  store: ExtendingStore;
  cookieName: string;
  secret: string;
}): RequestHandler {
  const { store, cookieName, secret } = deps;
  const prefix = `${cookieName}=`;
  return (req, res, next) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse["writeHead"]>) {
      res.writeHead = writeHead;
      addCookieIfExtended(req, res);
      return writeHead.apply(this, args);
    } as unknown as Response["writeHead"];
    next();
  };

  function addCookieIfExtended(req: Request, res: Response) {
    const session = req.session as (Session & object) | undefined;
    if (!session || !store.wasExtended(session) || session.id !== req.sessionID) return;
    const current = res.getHeader("Set-Cookie");
    const lines = Array.isArray(current) ? current : current === undefined ? [] : [String(current)];
    if (lines.some((line) => line.startsWith(prefix))) return;
    const cookie = session.cookie;
    // As express-session does: a Secure cookie is never sent over plain HTTP (as Express sees it).
    if (cookie.secure === true && !req.secure) return;
    session.touch(); // the expiry the store just gave the key: now + TTL
    res.cookie(cookieName, signedId(req.sessionID, secret), {
      expires: cookie.expires ?? undefined,
      httpOnly: cookie.httpOnly,
      secure: cookie.secure === true,
      sameSite: cookie.sameSite,
      path: cookie.path,
      domain: cookie.domain,
    });
  }
}
