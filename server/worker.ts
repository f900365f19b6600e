import { runMailWorkerProcess } from "./process/mail-worker.js";

// The worker process (`npm run worker`): runs the queued jobs (mail) apart from the web process.
void runMailWorkerProcess();
