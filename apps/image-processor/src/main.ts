import pg from "pg";
import { identityFromEnv } from "../../shared/src/identity.ts";
import { connectRedis } from "../../shared/src/queue.ts";
import { main, runOptionsFromEnv, runService } from "../../shared/src/run.ts";
import { createImageProcessor } from "./app.ts";
import { imageProcessorConfigFromEnv } from "./config.ts";
import { migrate } from "./db.ts";

main(async () => {
  const config = imageProcessorConfigFromEnv(process.env);
  const pool = new pg.Pool({
    ...(config.databaseUrl === "" ? {} : { connectionString: config.databaseUrl }),
    max: config.poolMax,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on("error", (error) =>
    console.error(JSON.stringify({ level: "error", msg: `pg pool: ${error.message}` })),
  );
  const applied = await migrate(pool);
  const redis = await connectRedis(config.redisUrl, (error) =>
    console.error(JSON.stringify({ level: "error", msg: `redis: ${error.message}` })),
  );
  const service = createImageProcessor(config, identityFromEnv(process.env, "image-processor"), {
    pool,
    redis,
  });
  service.app.log.info({ migrationsApplied: applied }, "database ready");
  service.app.addHook("onClose", async () => {
    await Promise.allSettled([pool.end(), redis.close()]);
  });
  await runService(service, runOptionsFromEnv(process.env, 8085));
});
