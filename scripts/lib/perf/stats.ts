// Numbers of a load test: percentiles, per-second buckets and the report built from them. Pure.

export const PERCENTILES = { p50: 50, p90: 90, p99: 99, p999: 99.9 } as const;
export type PercentileName = keyof typeof PERCENTILES;
export type Percentiles = Record<PercentileName, number>;

/** Nearest-rank percentile of ascending `sorted`; 0 for no samples. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function percentiles(sorted: ArrayLike<number>): Percentiles {
  return {
    p50: percentile(sorted, PERCENTILES.p50),
    p90: percentile(sorted, PERCENTILES.p90),
    p99: percentile(sorted, PERCENTILES.p99),
    p999: percentile(sorted, PERCENTILES.p999),
  };
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** One second of the run, as recorded while it happens. */
export class SecondBucket {
  readonly latencies: number[] = [];
  readonly statusCounts: Record<string, number> = {};
  errors = 0;

  record(statusCode: number, latencyMs: number): void {
    this.latencies.push(latencyMs);
    const key = String(statusCode);
    this.statusCounts[key] = (this.statusCounts[key] ?? 0) + 1;
  }
}

/**
 * Collects responses into per-second buckets relative to the start of the measured run. Only what
 * lands inside the window [start, start + durationSeconds) counts: answers to requests still in
 * flight when the window closes are dropped (`outsideWindow`), so a run never reports more than it
 * measured.
 */
export class Recorder {
  readonly buckets: SecondBucket[] = [];
  /** Responses and errors that landed outside the measurement window, not counted. */
  outsideWindow = 0;
  private readonly startedAt: number;
  private readonly endsAt: number;

  constructor(startedAt: number, durationSeconds: number) {
    this.startedAt = startedAt;
    this.endsAt = startedAt + durationSeconds * 1000;
  }

  private bucket(at: number): SecondBucket | undefined {
    if (at < this.startedAt || at >= this.endsAt) {
      this.outsideWindow += 1;
      return undefined;
    }
    const index = Math.floor((at - this.startedAt) / 1000);
    while (this.buckets.length <= index) this.buckets.push(new SecondBucket());
    return this.buckets[index] as SecondBucket;
  }

  response(at: number, statusCode: number, latencyMs: number): void {
    this.bucket(at)?.record(statusCode, latencyMs);
  }

  error(at: number): void {
    const bucket = this.bucket(at);
    if (bucket) bucket.errors += 1;
  }

  /** Seconds actually measured for a run that ended at `endedAt`: the window, or less if it stopped early. */
  elapsedSeconds(endedAt: number): number {
    return Math.max(0, Math.min(endedAt, this.endsAt) - this.startedAt) / 1000;
  }
}

export interface TimelinePoint {
  readonly second: number;
  readonly requests: number;
  readonly errors: number;
  readonly latencyMs: Percentiles;
  readonly statusCounts: Record<string, number>;
}

export interface Summary {
  readonly requests: number;
  readonly rps: number;
  /** Requests that got no HTTP answer (refused, reset, timed out). */
  readonly errors: number;
  readonly non2xx: number;
  readonly errorRate: number;
  readonly latencyMs: Percentiles & { readonly mean: number; readonly max: number };
  readonly statusCounts: Record<string, number>;
}

export function timelineOf(buckets: readonly SecondBucket[]): TimelinePoint[] {
  return buckets.map((bucket, second) => {
    const sorted = Float64Array.from(bucket.latencies).sort();
    const latency = percentiles(sorted);
    return {
      second,
      requests: bucket.latencies.length,
      errors: bucket.errors,
      latencyMs: {
        p50: round(latency.p50),
        p90: round(latency.p90),
        p99: round(latency.p99),
        p999: round(latency.p999),
      },
      statusCounts: { ...bucket.statusCounts },
    };
  });
}

/** `durationSeconds`: the time actually measured (Recorder.elapsedSeconds), the divisor of rps. */
export function summarize(buckets: readonly SecondBucket[], durationSeconds: number): Summary {
  const all = Float64Array.from(buckets.flatMap((bucket) => bucket.latencies)).sort();
  const statusCounts: Record<string, number> = {};
  let errors = 0;
  for (const bucket of buckets) {
    errors += bucket.errors;
    for (const [status, count] of Object.entries(bucket.statusCounts))
      statusCounts[status] = (statusCounts[status] ?? 0) + count;
  }
  const requests = all.length;
  const non2xx = Object.entries(statusCounts)
    .filter(([status]) => !status.startsWith("2"))
    .reduce((sum, [, count]) => sum + count, 0);
  const latency = percentiles(all);
  const sum = all.reduce((total, value) => total + value, 0);
  return {
    requests,
    rps: round(requests / Math.max(durationSeconds, 0.001), 1),
    errors,
    non2xx,
    errorRate: requests + errors === 0 ? 0 : round((non2xx + errors) / (requests + errors), 4),
    latencyMs: {
      p50: round(latency.p50),
      p90: round(latency.p90),
      p99: round(latency.p99),
      p999: round(latency.p999),
      mean: requests === 0 ? 0 : round(sum / requests),
      max: requests === 0 ? 0 : round(all[all.length - 1] as number),
    },
    statusCounts,
  };
}
