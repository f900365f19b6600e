import { runMailWorkerProcess } from "../../server/process/mail-worker.js";

// The worker process with a composer that needs no account: every `registration-attempt` job becomes
// one fixed message to its address.
void runMailWorkerProcess({
  composer: () => async (job) =>
    job.kind === "registration-attempt"
      ? {
          to: job.email,
          subject: "Someone tried to register",
          text: "Was it you?",
          html: "<p>Was it you?</p>",
        }
      : undefined,
});
