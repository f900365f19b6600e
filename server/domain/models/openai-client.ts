/** A model as this API shows it (a subset of OpenAI's `/v1/models` entries). */
export interface Model {
  id: string;
  ownedBy: string;
  created: number; // seconds since epoch
}

export class UpstreamError extends Error {
  static readonly code = "upstream_error";
  constructor(
    message: string,
    readonly upstreamStatus?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "UpstreamError";
  }
}

export interface OpenAIClient {
  listModels(signal?: AbortSignal): Promise<Model[]>;
}

/** OpenAI over global fetch: Bearer auth, a hard timeout per request, errors without secrets. */
export function createOpenAIClient(options: {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
}): OpenAIClient {
  const { baseUrl, apiKey, timeoutMs } = options;
  return {
    async listModels(signal) {
      const timeout = AbortSignal.timeout(timeoutMs);
      let res: Response;
      try {
        res = await fetch(`${baseUrl}/models`, {
          headers: { authorization: `Bearer ${apiKey}`, accept: "application/json" },
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (err) {
        const reason = timeout.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message;
        throw new UpstreamError(`OpenAI request failed: ${reason}`, undefined, { cause: err });
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new UpstreamError(`OpenAI answered ${res.status}`, res.status);
      }
      let body: unknown;
      try {
        body = await res.json();
      } catch (err) {
        throw new UpstreamError("OpenAI sent a body that is not JSON", res.status, { cause: err });
      }
      const data = (body as { data?: unknown })?.data;
      if (!Array.isArray(data)) throw new UpstreamError("OpenAI sent no model list", res.status);
      return data
        .filter((m): m is { id: string; owned_by?: unknown; created?: unknown } => typeof m?.id === "string")
        .map((m) => ({
          id: m.id,
          ownedBy: typeof m.owned_by === "string" ? m.owned_by : "",
          created: typeof m.created === "number" ? m.created : 0,
        }))
        .sort((a, b) => a.id.localeCompare(b.id));
    },
  };
}
