// Reading configuration from environment variables. Every service reads its settings through these
// helpers so a bad value fails at start with a message that names the variable, instead of
// surfacing later as NaN or undefined deep inside a request.

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function envString(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === "" ? fallback : raw;
}

export function envInt(env: Env, name: string, fallback: number, range: { min?: number; max?: number } = {}) {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  if (range.min !== undefined && value < range.min) throw new ConfigError(`${name} must be >= ${range.min}`);
  if (range.max !== undefined && value > range.max) throw new ConfigError(`${name} must be <= ${range.max}`);
  return value;
}

export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const normalized = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(normalized)) return true;
  if (["0", "false", "no", "off"].includes(normalized)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

export function envEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

/** Settings every service shares. */
export interface CommonConfig {
  /** Off in the broken-traces lesson: outbound calls then carry no trace headers. */
  readonly propagateTraceHeaders: boolean;
  readonly logLevel: string;
}

export function commonConfigFromEnv(env: Env): CommonConfig {
  return {
    propagateTraceHeaders: envBool(env, "PROPAGATE_TRACE_HEADERS", true),
    logLevel: envEnum(
      env,
      "LOG_LEVEL",
      ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
      "info",
    ),
  };
}
