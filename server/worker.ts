import { runMailWorkerProcess } from "./process/mail-worker.js";

// The worker process: runs the queued jobs (mail) apart from the web process (README "Jobs and mail").
void runMailWorkerProcess();
