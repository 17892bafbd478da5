import { identityFromEnv } from "../../shared/src/identity.ts";
import { main, runOptionsFromEnv, runService } from "../../shared/src/run.ts";
import { createContentGenerator } from "./app.ts";
import { contentGeneratorConfigFromEnv } from "./config.ts";
import { describeFaultMode } from "./faults.ts";

main(async () => {
  const config = contentGeneratorConfigFromEnv(process.env);
  const service = createContentGenerator(config, identityFromEnv(process.env, "content-generator"));
  service.app.log.info(
    { faultMode: describeFaultMode(config.faultMode), externalApiUrl: config.externalApiUrl },
    "content generator configured",
  );
  await runService(service, runOptionsFromEnv(process.env, 8082));
});
