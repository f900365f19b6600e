/** Process state shared by main.ts (which receives signals) and the app (which answers readiness). */
export interface Lifecycle {
  readonly shuttingDown: boolean;
  /** Readiness answers 503 from now on; requests are still served until the server closes. */
  beginShutdown(): void;
}

export function createLifecycle(): Lifecycle {
  let shuttingDown = false;
  return {
    get shuttingDown() {
      return shuttingDown;
    },
    beginShutdown() {
      shuttingDown = true;
    },
  };
}
