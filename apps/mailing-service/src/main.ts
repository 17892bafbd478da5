import { identityFromEnv } from "../../shared/src/identity.ts";
import { connectRedis } from "../../shared/src/queue.ts";
import { main, runOptionsFromEnv, runService } from "../../shared/src/run.ts";
import { createMailingService } from "./app.ts";
import { mailingConfigFromEnv } from "./config.ts";

main(async () => {
  const config = mailingConfigFromEnv(process.env);
  const redis = await connectRedis(config.redisUrl, (error) =>
    console.error(JSON.stringify({ level: "error", msg: `redis: ${error.message}` })),
  );
  const service = createMailingService(config, identityFromEnv(process.env, "mailing-service"), redis);
  const consumer = await service.startConsumer();
  service.app.addHook("onClose", async () => {
    await consumer.stop();
    await redis.close().catch(() => undefined);
  });
  await runService(service, runOptionsFromEnv(process.env, 8086));
});
