import { identityFromEnv } from "../../shared/src/identity.ts";
import { main, runOptionsFromEnv, runService } from "../../shared/src/run.ts";
import { createPortal } from "./app.ts";
import { portalConfigFromEnv } from "./config.ts";

main(async () => {
  const config = portalConfigFromEnv(process.env);
  const service = createPortal(config, identityFromEnv(process.env, "frontend-portal"));
  service.app.log.info({ peers: config.peers }, "portal configured");
  await runService(service, runOptionsFromEnv(process.env, 8080));
});
