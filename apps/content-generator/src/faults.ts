import { ConfigError } from "../../shared/src/config.ts";

/**
 * Misbehaviour for the fault-injection and circuit-breaker lessons, set with FAULT_MODE:
 *   none             behave
 *   errors[:share]   answer 503 to that share of requests (0..1, default 0.5)
 *   delay[:ms]       wait that long before answering (default 3000)
 *   flapping[:secs]  alternate healthy and 503 every that many seconds (default 10)
 *   always-bad       answer 500 to everything
 */
export type FaultMode =
  | { readonly kind: "none" }
  | { readonly kind: "errors"; readonly share: number }
  | { readonly kind: "delay"; readonly ms: number }
  | { readonly kind: "flapping"; readonly periodSeconds: number }
  | { readonly kind: "always-bad" };

export type FaultDecision =
  | { readonly kind: "pass" }
  | { readonly kind: "fail"; readonly status: number; readonly reason: string }
  | { readonly kind: "delay"; readonly ms: number };

function numberArgument(
  raw: string,
  argument: string | undefined,
  fallback: number,
  min: number,
  max: number,
) {
  if (argument === undefined || argument === "") return fallback;
  const value = Number(argument);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`FAULT_MODE "${raw}": argument must be a number between ${min} and ${max}`);
  }
  return value;
}

export function parseFaultMode(raw: string): FaultMode {
  const [name, argument, ...rest] = raw.trim().toLowerCase().split(":");
  if (rest.length > 0) throw new ConfigError(`FAULT_MODE "${raw}" has too many ':' parts`);
  switch (name) {
    case "":
    case "none":
      return { kind: "none" };
    case "errors":
      return { kind: "errors", share: numberArgument(raw, argument, 0.5, 0, 1) };
    case "delay":
      return { kind: "delay", ms: numberArgument(raw, argument, 3000, 0, 60_000) };
    case "flapping":
      return { kind: "flapping", periodSeconds: numberArgument(raw, argument, 10, 1, 3600) };
    case "always-bad":
      return { kind: "always-bad" };
    default:
      throw new ConfigError(
        `FAULT_MODE "${raw}" is not one of none, errors[:share], delay[:ms], flapping[:seconds], always-bad`,
      );
  }
}

export function describeFaultMode(mode: FaultMode): string {
  switch (mode.kind) {
    case "none":
    case "always-bad":
      return mode.kind;
    case "errors":
      return `errors:${mode.share}`;
    case "delay":
      return `delay:${mode.ms}`;
    case "flapping":
      return `flapping:${mode.periodSeconds}`;
  }
}

/** What to do with one request; `random` is in [0, 1). Pure, so each mode is tested exactly. */
export function decideFault(mode: FaultMode, nowMs: number, random: number): FaultDecision {
  switch (mode.kind) {
    case "none":
      return { kind: "pass" };
    case "errors":
      return random < mode.share ? { kind: "fail", status: 503, reason: "injected error" } : { kind: "pass" };
    case "delay":
      return { kind: "delay", ms: mode.ms };
    case "flapping": {
      const phase = Math.floor(nowMs / 1000 / mode.periodSeconds) % 2;
      return phase === 1 ? { kind: "fail", status: 503, reason: "flapping: bad phase" } : { kind: "pass" };
    }
    case "always-bad":
      return { kind: "fail", status: 500, reason: "always bad" };
  }
}
