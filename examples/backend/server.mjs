// A backend in any language stands here. This one answers every request with the identity headers the
// proxy passed on, so you can see (and the tests can check) who the auth server says is calling.
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? "0.0.0.0";

const server = createServer((req, res) => {
  const identity = Object.fromEntries(
    Object.entries(req.headers).filter(([name]) => /^x[-_]auth[-_]/i.test(name)),
  );
  res.setHeader("Content-Type", "application/json");
  res.setHeader("Cache-Control", "no-store");
  res.end(JSON.stringify({ method: req.method, path: req.url, identity }));
});
server.listen(port, host, () => {
  const address = server.address();
  console.log(
    JSON.stringify({ msg: "backend listening", port: typeof address === "object" ? address?.port : port }),
  );
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
