import { identityFromEnv } from "../../shared/src/identity.ts";
import { main, runOptionsFromEnv, runService } from "../../shared/src/run.ts";
import { createAuthService } from "./app.ts";
import { authServiceConfigFromEnv } from "./config.ts";
import { loadOrGenerateKeys } from "./keys.ts";

main(async () => {
  const config = authServiceConfigFromEnv(process.env);
  const keys = await loadOrGenerateKeys(config.privateKeyFile);
  const service = createAuthService(config, identityFromEnv(process.env, "auth-service"), keys);
  service.app.log.info({ kid: keys.kid, alg: keys.alg, keySource: keys.source }, "signing key ready");
  await runService(service, runOptionsFromEnv(process.env, 8081));
});
