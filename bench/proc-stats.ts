import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** The process and its direct children (the workers of a cluster primary). */
function family(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return [pid, ...children.split(/\s+/).filter(Boolean).map(Number)];
  } catch {
    return [pid];
  }
}

/** User + system CPU time of a process, its threads and its children (workers) so far, in µs (Linux /proc). */
export function cpuMicros(pid: number): number {
  return family(pid).reduce((sum, p) => {
    try {
      return sum + ownCpuMicros(p);
    } catch {
      return sum; // a worker that has just exited
    }
  }, 0);
}

function ownCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces and parentheses: fields start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]); // field 14 of proc(5)
  const stime = Number(fields[12]); // field 15
  return ((utime + stime) / clockTicks()) * 1e6;
}

/** Resident set size now and its peak since the process started (VmHWM), in MiB. */
export function memory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** Samples RSS every `intervalMs` until stopped; returns the samples and the largest one. */
export function sampleRss(pid: number, intervalMs: number) {
  const samples: Array<{ atS: number; rssMiB: number }> = [];
  const start = Date.now();
  const take = () => samples.push({ atS: (Date.now() - start) / 1000, rssMiB: memory(pid).rssMiB });
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { samples, maxMiB: Math.max(...samples.map((s) => s.rssMiB)) };
    },
  };
}
