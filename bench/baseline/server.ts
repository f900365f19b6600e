/**
 * The stock setup a team assembles from the packages' READMEs, used as the benchmark's baseline:
 * express 5, helmet, express-session + connect-redis 8.1 on a default ioredis client (rolling,
 * resave: false, saveUninitialized: false), passport-local with deserializeUser from an in-memory map,
 * express-rate-limit + rate-limit-redis. Same routes and same user as the product. Deliberately plain:
 * it must look like what the READMEs teach, not like the product.
 *
 * Environment (set by bench/run.ts): PORT, REDIS_URL, SESSION_SECRET, BENCH_EMAIL, BENCH_PASSWORD,
 * PASSWORD_SCRYPT_LOG_N, OPENAI_BASE_URL, OPENAI_API_KEY, RATE_LIMIT.
 */
import { randomBytes, randomUUID, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { RedisStore } from "connect-redis";
import express from "express";
import { rateLimit } from "express-rate-limit";
import session from "express-session";
import helmet from "helmet";
import { Redis } from "ioredis";
import passport from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import { RedisStore as RateLimitRedisStore, type RedisReply } from "rate-limit-redis";

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;
const N = 2 ** Number(env("PASSWORD_SCRYPT_LOG_N", "17"));
const SCRYPT = { N, r: 8, p: 1, maxmem: 256 * N * 8 };

interface User {
  id: string;
  email: string;
  createdAt: Date;
  salt: Buffer;
  hash: Buffer;
}

const users = new Map<string, User>();
const usersByEmail = new Map<string, User>();

async function addUser(email: string, password: string) {
  const salt = randomBytes(16);
  const user = {
    id: randomUUID(),
    email,
    createdAt: new Date(),
    salt,
    hash: await scryptAsync(password, salt, 64, SCRYPT),
  };
  users.set(user.id, user);
  usersByEmail.set(email, user);
}

passport.use(
  new LocalStrategy({ usernameField: "email" }, (email, password, done) => {
    const user = usersByEmail.get(email.toLowerCase());
    if (!user) return done(null, false);
    scryptAsync(password, user.salt, 64, SCRYPT).then(
      (hash) => done(null, timingSafeEqual(hash, user.hash) ? user : false),
      done,
    );
  }),
);
passport.serializeUser((user, done) => done(null, (user as User).id));
passport.deserializeUser((id: string, done) => done(null, users.get(id) ?? false));

const redisClient = new Redis(env("REDIS_URL"));

const app = express();
app.use(helmet());
app.use(express.json());

app.get("/health/live", (_req, res) => {
  res.json({ status: "ok" });
});

app.use(
  rateLimit({
    windowMs: 60_000,
    limit: Number(env("RATE_LIMIT", "100")),
    standardHeaders: "draft-8",
    legacyHeaders: false,
    store: new RateLimitRedisStore({
      sendCommand: (command: string, ...args: string[]) =>
        redisClient.call(command, ...args) as Promise<RedisReply>,
    }),
  }),
);

app.use(
  session({
    store: new RedisStore({ client: redisClient, prefix: "baseline:sess:" }),
    secret: env("SESSION_SECRET"),
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, secure: false, sameSite: "strict", maxAge: 86_400_000 },
  }),
);
app.use(passport.initialize());
app.use(passport.session());

const publicUser = (user: User) => ({
  id: user.id,
  email: user.email,
  createdAt: user.createdAt.toISOString(),
});

app.post("/auth/login", passport.authenticate("local"), (req, res) => {
  res.json({ user: publicUser(req.user as User) });
});

app.get("/auth/me", (req, res) => {
  if (!req.user) return res.status(401).json({ error: { code: "unauthenticated" } });
  res.json({ user: publicUser(req.user as User) });
});

// The naive cache a team writes first: one module-level value with an expiry.
let models: { body: unknown; expiresAt: number } | undefined;
app.get("/api/models", async (req, res) => {
  if (!req.user) return res.status(401).json({ error: { code: "unauthenticated" } });
  if (!models || models.expiresAt < Date.now()) {
    const upstream = await fetch(`${env("OPENAI_BASE_URL")}/models`, {
      headers: { authorization: `Bearer ${env("OPENAI_API_KEY")}` },
    });
    models = { body: await upstream.json(), expiresAt: Date.now() + 3_600_000 };
  }
  res.json(models.body);
});

await addUser(env("BENCH_EMAIL"), env("BENCH_PASSWORD"));
const server = app.listen(Number(env("PORT")), "127.0.0.1", () => {
  process.stdout.write(`baseline listening on ${env("PORT")}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  redisClient.disconnect();
  // Exiting (rather than being killed) lets `node --cpu-prof` write its profile.
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
