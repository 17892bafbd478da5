import {
  commonConfigFromEnv,
  envInt,
  envString,
  type CommonConfig,
  type Env,
} from "../../shared/src/config.ts";
import { parseFaultMode, type FaultMode } from "./faults.ts";

export interface ContentGeneratorConfig extends CommonConfig {
  readonly faultMode: FaultMode;
  /** Empty turns the outbound call off. */
  readonly externalApiUrl: string;
  readonly externalApiTimeoutMs: number;
  /** Upper bound of the /delay helper, so a typo cannot park a connection for an hour. */
  readonly maxDelayMs: number;
}

export function contentGeneratorConfigFromEnv(env: Env): ContentGeneratorConfig {
  return {
    ...commonConfigFromEnv(env),
    faultMode: parseFaultMode(envString(env, "FAULT_MODE", "none")),
    externalApiUrl: envString(env, "EXTERNAL_API_URL", ""),
    externalApiTimeoutMs: envInt(env, "EXTERNAL_API_TIMEOUT_MS", 1500, { min: 1, max: 30_000 }),
    maxDelayMs: envInt(env, "MAX_DELAY_MS", 30_000, { min: 0 }),
  };
}
