import { createMemoryQueue } from "../../../server/infra/jobs/memory-queue.js";
import {
  CONTRACT_BACKOFF_MS,
  type Item,
  jobQueueContractSuite,
} from "../../helpers/job-queue-contract-suite.js";

jobQueueContractSuite("in-process", async () =>
  createMemoryQueue<Item>("contract", { backoffMs: CONTRACT_BACKOFF_MS }),
);
