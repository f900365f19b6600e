import { LRUCache } from "lru-cache";
import { gcra, gcraRefund, type RateLimitDecision, type RateLimitStore } from "./store.js";

/** Wall clock in µs (ms precision). */
const wallClockUs = () => Date.now() * 1000;

/**
 * The GCRA limiter in this process. Bounded: past `maxKeys` subjects the least recently seen is forgotten
 * (it gets a fresh quota), so a flood of distinct addresses cannot exhaust memory.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly tats: LRUCache<string, number>;
  private readonly now: () => number;

  constructor(options: { maxKeys: number; now?: () => number }) {
    this.tats = new LRUCache({ max: options.maxKeys });
    this.now = options.now ?? wallClockUs;
  }

  async consume(key: string, limit: number, windowUs: number, cost: number): Promise<RateLimitDecision> {
    const now = this.now();
    const { decision, newTat } = gcra(this.tats.get(key), now, limit, windowUs, cost);
    if (newTat !== undefined) {
      // The entry means nothing once the quota is full again.
      this.tats.set(key, newTat, { ttl: Math.max(1, Math.ceil((newTat - now) / 1000)) });
    }
    return decision;
  }

  async reset(key: string): Promise<void> {
    this.tats.delete(key);
  }

  async refund(key: string, limit: number, windowUs: number, cost: number): Promise<void> {
    const now = this.now();
    const newTat = gcraRefund(this.tats.get(key), now, limit, windowUs, cost);
    if (newTat === undefined) this.tats.delete(key);
    else this.tats.set(key, newTat, { ttl: Math.max(1, Math.ceil((newTat - now) / 1000)) });
  }
}
