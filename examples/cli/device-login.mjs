#!/usr/bin/env node
// Signs a command-line tool in by device sign-in (RFC 8628), then calls GET /auth/me with the token.
// Usage: node examples/cli/device-login.mjs https://auth.example.com
// No dependencies: Node 20's fetch through the typed client in clients/ (copy api-client.mjs, its .d.mts
// and api-types.ts into your tool). A real CLI keeps the token in the OS keyring, never in a plain file.
import { createClient } from "../../clients/api-client.mjs";

const base = process.argv[2] ?? process.env.AUTH_URL ?? "http://localhost:3000";
const api = createClient({ baseUrl: base });
const say = (fields) => console.log(JSON.stringify(fields));
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

const started = await api.request("POST /auth/device/code", { body: { client_name: "example CLI" } });
if (started.status !== 200) {
  say({ msg: "could not start the sign-in", status: started.status, error: started.body?.error });
  process.exit(1);
}
const { device_code, user_code, verification_uri, verification_uri_complete, expires_in } = started.body;
let interval = started.body.interval;
say({ msg: "open the link and approve", verification_uri, user_code, verification_uri_complete });

const deadline = Date.now() + expires_in * 1000;
let token;
while (!token) {
  if (Date.now() > deadline) {
    say({ msg: "the code expired before it was approved" });
    process.exit(1);
  }
  await sleep(interval);
  const polled = await api.request("POST /auth/device/token", { body: { device_code } });
  if (polled.status === 200) token = polled.body.token;
  else if (polled.body?.error === "authorization_pending") continue;
  else if (polled.body?.error === "slow_down")
    interval += 5; // RFC 8628 section 3.5
  else {
    say({ msg: "sign-in failed", error: polled.body?.error });
    process.exit(1);
  }
}

const me = await api.withToken(token).request("GET /auth/me");
say({ msg: "signed in", status: me.status, email: me.status === 200 ? me.body.user.email : undefined });
process.exit(me.status === 200 ? 0 : 1);
