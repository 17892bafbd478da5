import { hostname } from "node:os";
import { envString, type Env } from "./config.ts";

/** Who is answering: shown in headers and bodies so a learner can see routing decisions. */
export interface ServiceIdentity {
  readonly service: string;
  readonly version: string;
  readonly pod: string;
}

export function identityFromEnv(env: Env, service: string): ServiceIdentity {
  return {
    service,
    version: envString(env, "VERSION", "v1"),
    // POD_NAME comes from the downward API in the chart; locally the host name is the best we have.
    pod: envString(env, "POD_NAME", hostname()),
  };
}
