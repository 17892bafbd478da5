/** Requests/sec and the p99 of wrk's `--latency` output, p99 converted to milliseconds. */
export function parseWrk(output: string): { rps: number; p99Ms: number } {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(output);
  const factor = p99?.[2] === "us" ? 0.001 : p99?.[2] === "s" ? 1000 : 1;
  return { rps, p99Ms: p99 ? Math.round(Number(p99[1]) * factor * 100) / 100 : NaN };
}
