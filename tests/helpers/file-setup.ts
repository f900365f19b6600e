import { afterAll, vi } from "vitest";
import { endOfFile } from "./fixtures.js";

// Run before every test file (vitest `setupFiles`). The unit and integration tiers share each worker's
// modules between files (`isolate: false`), so what one file leaves behind is undone here: the fixtures it
// opened are closed and a fake clock it left installed is removed.
afterAll(async () => {
  vi.useRealTimers();
  await endOfFile();
});
