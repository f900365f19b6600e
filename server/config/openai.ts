import { z } from "zod";
import { int, nonEmpty, secret, type Values } from "./variables.js";

export const OPENAI_VARIABLES = {
  OPENAI_API_KEY: secret(nonEmpty.optional()), // key for the OpenAI API; unset: /api/models answers 503
  OPENAI_BASE_URL: z.url({ protocol: /^https?$/ }).default("https://api.openai.com/v1"), // OpenAI-compatible base URL
  OPENAI_TIMEOUT_MS: int(100).default(10_000), // bound on each upstream call
};

/** The upstream OpenAI-compatible API. */
export function openaiConfig(v: Values<typeof OPENAI_VARIABLES>) {
  return {
    openai: {
      apiKey: v.OPENAI_API_KEY,
      baseUrl: v.OPENAI_BASE_URL.replace(/\/+$/, ""),
      timeoutMs: v.OPENAI_TIMEOUT_MS,
    },
  };
}

export type OpenAIConfig = ReturnType<typeof openaiConfig>;
