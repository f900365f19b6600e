#!/usr/bin/env node
// Signs a command-line tool in by device sign-in (RFC 8628), then calls GET /auth/me with the token.
// Usage: node examples/cli/device-login.mjs https://auth.example.com
// No dependencies: Node 20's fetch. A real CLI keeps the token in the OS keyring, never in a plain file.
const base = (process.argv[2] ?? process.env.AUTH_URL ?? "http://localhost:3000").replace(/\/$/, "");
const say = (fields) => console.log(JSON.stringify(fields));
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

async function post(path, body) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const started = await post("/auth/device/code", { client_name: "example CLI" });
if (started.status !== 200) {
  say({ msg: "could not start the sign-in", status: started.status, error: started.body.error });
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
  const polled = await post("/auth/device/token", { device_code });
  if (polled.status === 200) token = polled.body.token;
  else if (polled.body.error === "authorization_pending") continue;
  else if (polled.body.error === "slow_down")
    interval += 5; // RFC 8628 section 3.5
  else {
    say({ msg: "sign-in failed", error: polled.body.error });
    process.exit(1);
  }
}

const me = await fetch(`${base}/auth/me`, { headers: { Authorization: `Bearer ${token}` } });
const body = await me.json();
say({ msg: "signed in", status: me.status, email: body.user?.email });
process.exit(me.status === 200 ? 0 : 1);
