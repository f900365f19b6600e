import { startWeb } from "./process/web.js";

// The web process (`npm start`); the worker process is worker.ts. Both are the deployed entry points.
startWeb();
