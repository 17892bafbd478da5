import {
  commonConfigFromEnv,
  ConfigError,
  envInt,
  envString,
  type CommonConfig,
  type Env,
} from "../../shared/src/config.ts";
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from "../../shared/src/authenticate.ts";

export interface DemoUser {
  readonly username: string;
  readonly password: string;
  readonly group: string;
}

export interface AuthServiceConfig extends CommonConfig {
  readonly users: readonly DemoUser[];
  readonly issuer: string;
  readonly audience: string;
  readonly tokenTtlSeconds: number;
  /** PEM (PKCS#8) private key mounted from a Secret; empty means generate a key pair at start. */
  readonly privateKeyFile: string;
}

/** Demo accounts: one per group so the authorization lessons have someone to allow and deny. */
export const DEFAULT_DEMO_USERS = "alice:wonderland:admins,bob:builder:users";

/** Parses "user:password:group,user2:password2:group2". */
export function parseDemoUsers(raw: string): DemoUser[] {
  const users = raw
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const [username, password, group, ...rest] = entry.split(":");
      if (!username || !password || !group || rest.length > 0) {
        throw new ConfigError(`DEMO_USERS entry "${entry}" must be user:password:group`);
      }
      return { username, password, group };
    });
  if (users.length === 0) throw new ConfigError("DEMO_USERS must name at least one user");
  return users;
}

export function authServiceConfigFromEnv(env: Env): AuthServiceConfig {
  return {
    ...commonConfigFromEnv(env),
    users: parseDemoUsers(envString(env, "DEMO_USERS", DEFAULT_DEMO_USERS)),
    issuer: envString(env, "JWT_ISSUER", DEFAULT_ISSUER),
    audience: envString(env, "JWT_AUDIENCE", DEFAULT_AUDIENCE),
    // Short on purpose: the JWT lesson shows an expired token being refused by the mesh.
    tokenTtlSeconds: envInt(env, "TOKEN_TTL_SECONDS", 900, { min: 5, max: 86_400 }),
    privateKeyFile: envString(env, "JWT_PRIVATE_KEY_FILE", ""),
  };
}
