import { parseArgs } from "node:util";

export const SCENARIOS = [
  "ceiling",
  "auth",
  "bearer",
  "pat",
  "forward-auth",
  "cache",
  "sustained",
  "login",
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
export const TARGETS = ["ours", "baseline"] as const;
export type TargetName = (typeof TARGETS)[number];

export interface BenchOptions {
  durationS: number;
  warmupS: number;
  connections: number;
  rounds: number;
  scenarios: ScenarioName[];
  targets: TargetName[];
  sustainedS: number;
  loginConnections: number;
  loginDurationS: number;
  /** scrypt cost for the bench user and the login scenario (the product's production default). */
  passwordLogN: number;
  tool: "wrk" | "autocannon" | "auto";
  profile: boolean;
  /** Extra node flags for our server only (experiments such as GC sizing; the baseline stays stock). */
  oursNodeArgs: string[];
  /** Added in each direction between each server and its Redis by a TCP proxy (ms); 0: direct. */
  netDelayMs: number;
  /** WEB_CONCURRENCY for our server (the baseline is one process). */
  oursWorkers: number;
  databaseUrl?: string;
  outDir: string;
}

export const USAGE = `npm run bench -- [options]   (every option also reads an env var)

  --duration S          measured seconds per phase          BENCH_DURATION     (10)
  --warmup S            unmeasured seconds before a phase   BENCH_WARMUP       (2)
  --connections N       concurrent connections              BENCH_CONNECTIONS  (50)
  --rounds N            interleaved rounds A B A B ...      BENCH_ROUNDS       (5)
  --scenarios LIST      ${SCENARIOS.join(",")}             BENCH_SCENARIOS    (all)
  --targets LIST        ours,baseline                       BENCH_TARGETS      (both)
  --sustained S         length of the sustained scenario    BENCH_SUSTAINED    (60)
  --login-connections N concurrent logins                   BENCH_LOGIN_CONNECTIONS (20)
  --login-duration S    measured seconds of logins          BENCH_LOGIN_DURATION (20)
  --password-log-n N    scrypt log2(N) of the bench user    BENCH_PASSWORD_LOG_N (17, production)
  --tool NAME           wrk | autocannon | auto             BENCH_TOOL         (auto: wrk if installed)
  --profile             write node --cpu-prof profiles      BENCH_PROFILE      (off)
  --ours-node-args ARGS extra node flags for ours only      BENCH_OURS_NODE_ARGS (none)
  --net-delay MS        delay each way app <-> Redis (proxy) BENCH_NET_DELAY_MS (0: direct)
  --ours-workers N      WEB_CONCURRENCY of ours             BENCH_OURS_WORKERS (1; >1 needs PostgreSQL)
  --quick               3 rounds of 5 s, no sustained scenario
  --out DIR             where results go                    BENCH_OUT          (bench/results)

  Postgres: BENCH_DATABASE_URL, else TEST_DATABASE_URL (a private schema is created and dropped),
  else the embedded PGlite in a temporary directory.`;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) {
    throw new Error(`${name}: must be a positive number (got "${value}")`);
  }
  return Number(value);
}

function nonNegative(name: string, value: string | undefined): number {
  if (value === undefined || value === "") return 0;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new Error(`${name}: must be a number >= 0 (got "${value}")`);
  return Number(value);
}

function list<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T[] {
  if (value === undefined || value === "" || value === "all") return [...allowed];
  const items = value.split(",").map((s) => s.trim());
  const bad = items.filter((i) => !allowed.includes(i as T));
  if (bad.length > 0) throw new Error(`${name}: unknown ${bad.join(", ")} (allowed: ${allowed.join(", ")})`);
  return allowed.filter((a) => items.includes(a));
}

/** CLI flags win over BENCH_* variables, which win over the defaults. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      rounds: { type: "string" },
      scenarios: { type: "string" },
      targets: { type: "string" },
      sustained: { type: "string" },
      "login-connections": { type: "string" },
      "login-duration": { type: "string" },
      "password-log-n": { type: "string" },
      tool: { type: "string" },
      profile: { type: "boolean" },
      "ours-node-args": { type: "string" },
      "net-delay": { type: "string" },
      "ours-workers": { type: "string" },
      quick: { type: "boolean" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const quick = values.quick === true;
  const tool = values.tool ?? env.BENCH_TOOL ?? "auto";
  if (tool !== "wrk" && tool !== "autocannon" && tool !== "auto") {
    throw new Error(`--tool: must be wrk, autocannon or auto (got "${tool}")`);
  }
  const logN = positive("--password-log-n", values["password-log-n"] ?? env.BENCH_PASSWORD_LOG_N, 17);
  if (!Number.isInteger(logN) || logN < 10 || logN > 20) throw new Error("--password-log-n: 10..20");
  let scenarios = list("--scenarios", values.scenarios ?? env.BENCH_SCENARIOS, SCENARIOS);
  if (quick && (values.scenarios ?? env.BENCH_SCENARIOS) === undefined) {
    scenarios = scenarios.filter((s) => s !== "sustained");
  }
  return {
    durationS: positive("--duration", values.duration ?? env.BENCH_DURATION, quick ? 5 : 10),
    warmupS: positive("--warmup", values.warmup ?? env.BENCH_WARMUP, 2),
    connections: Math.round(positive("--connections", values.connections ?? env.BENCH_CONNECTIONS, 50)),
    rounds: Math.round(positive("--rounds", values.rounds ?? env.BENCH_ROUNDS, quick ? 3 : 5)),
    scenarios,
    targets: list("--targets", values.targets ?? env.BENCH_TARGETS, TARGETS),
    sustainedS: positive("--sustained", values.sustained ?? env.BENCH_SUSTAINED, 60),
    loginConnections: Math.round(
      positive("--login-connections", values["login-connections"] ?? env.BENCH_LOGIN_CONNECTIONS, 20),
    ),
    loginDurationS: positive("--login-duration", values["login-duration"] ?? env.BENCH_LOGIN_DURATION, 20),
    passwordLogN: logN,
    tool,
    profile: values.profile === true || env.BENCH_PROFILE === "1" || env.BENCH_PROFILE === "true",
    oursNodeArgs: (values["ours-node-args"] ?? env.BENCH_OURS_NODE_ARGS ?? "").split(/\s+/).filter(Boolean),
    netDelayMs: nonNegative("--net-delay", values["net-delay"] ?? env.BENCH_NET_DELAY_MS),
    oursWorkers: Math.round(positive("--ours-workers", values["ours-workers"] ?? env.BENCH_OURS_WORKERS, 1)),
    databaseUrl: env.BENCH_DATABASE_URL || env.TEST_DATABASE_URL || undefined,
    outDir: values.out ?? env.BENCH_OUT ?? "bench/results",
  };
}
