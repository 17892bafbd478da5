// Starts the real services in this process on ephemeral 127.0.0.1 ports, wired to each other through
// ISTIO_SVC_* variables exactly as in the cluster, against real PostgreSQL and Redis.
import pg from "pg";
import { createAuthService } from "../../../apps/auth-service/src/app.ts";
import { authServiceConfigFromEnv } from "../../../apps/auth-service/src/config.ts";
import { loadOrGenerateKeys } from "../../../apps/auth-service/src/keys.ts";
import { createContentGenerator } from "../../../apps/content-generator/src/app.ts";
import { contentGeneratorConfigFromEnv } from "../../../apps/content-generator/src/config.ts";
import { createPortal } from "../../../apps/frontend-portal/src/app.ts";
import { portalConfigFromEnv } from "../../../apps/frontend-portal/src/config.ts";
import { createImageProcessor } from "../../../apps/image-processor/src/app.ts";
import { imageProcessorConfigFromEnv } from "../../../apps/image-processor/src/config.ts";
import { migrate } from "../../../apps/image-processor/src/db.ts";
import { createMailingService } from "../../../apps/mailing-service/src/app.ts";
import { mailingConfigFromEnv } from "../../../apps/mailing-service/src/config.ts";
import type { Env } from "../../../apps/shared/src/config.ts";
import { identityFromEnv } from "../../../apps/shared/src/identity.ts";
import { connectRedis, type RedisClient } from "../../../apps/shared/src/queue.ts";
import type { Service } from "../../../apps/shared/src/service.ts";

export const QUIET: Env = { LOG_LEVEL: "warn" };

/** Listens on an ephemeral loopback port and returns the base URL. */
export async function listen(service: Service): Promise<string> {
  return service.app.listen({ port: 0, host: "127.0.0.1" });
}

export interface Stack {
  readonly urls: Record<"portal" | "auth" | "content" | "images" | "mailing", string>;
  readonly services: Service[];
  readonly pool: pg.Pool;
  readonly redis: RedisClient;
  stop(): Promise<void>;
}

export interface StackOptions {
  readonly postgresUrl: string;
  readonly redisUrl: string;
  /** Extra variables for every service (e.g. PROPAGATE_TRACE_HEADERS=false). */
  readonly env?: Env;
  readonly contentVersion?: string;
  readonly authMode?: string;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const base: Env = { ...QUIET, ...options.env };
  const started: Service[] = [];
  const up = async (service: Service) => {
    started.push(service);
    return listen(service);
  };

  const authEnv = { ...base, POD_NAME: "auth-service-v1-test" };
  const auth = await up(
    createAuthService(
      authServiceConfigFromEnv(authEnv),
      identityFromEnv(authEnv, "auth-service"),
      await loadOrGenerateKeys(""),
    ),
  );
  const contentEnv = { ...base, VERSION: options.contentVersion ?? "v2", POD_NAME: "content-generator-test" };
  const content = await up(
    createContentGenerator(
      contentGeneratorConfigFromEnv(contentEnv),
      identityFromEnv(contentEnv, "content-generator"),
    ),
  );

  const pool = new pg.Pool({ connectionString: options.postgresUrl, max: 5 });
  // As in main.ts: an idle client dropped by the server must not become an unhandled error.
  pool.on("error", () => undefined);
  await migrate(pool);
  const redis = await connectRedis(options.redisUrl, () => undefined);
  const backendEnv = {
    ...base,
    AUTH_MODE: options.authMode ?? "auth-service",
    ISTIO_SVC_AUTH_SERVICE: auth,
    ISTIO_SVC_CONTENT_GENERATOR: content,
    DATABASE_URL: options.postgresUrl,
    REDIS_URL: options.redisUrl,
  };
  const imagesEnv = { ...backendEnv, POD_NAME: "image-processor-test" };
  const images = await up(
    createImageProcessor(
      imageProcessorConfigFromEnv(imagesEnv),
      identityFromEnv(imagesEnv, "image-processor"),
      {
        pool,
        redis,
      },
    ),
  );
  const mailingEnv = { ...backendEnv, POD_NAME: "mailing-service-test" };
  const mailingService = createMailingService(
    mailingConfigFromEnv(mailingEnv),
    identityFromEnv(mailingEnv, "mailing-service"),
    redis,
  );
  const consumer = await mailingService.startConsumer();
  const mailing = await up(mailingService);

  const portalEnv = {
    ...base,
    POD_NAME: "frontend-portal-test",
    ISTIO_SVC_AUTH_SERVICE: auth,
    ISTIO_SVC_CONTENT_GENERATOR: content,
    ISTIO_SVC_IMAGE_PROCESSOR: images,
    ISTIO_SVC_MAILING_SERVICE: mailing,
  };
  const portal = await up(
    createPortal(portalConfigFromEnv(portalEnv), identityFromEnv(portalEnv, "frontend-portal")),
  );

  return {
    urls: { portal, auth, content, images, mailing },
    services: started,
    pool,
    redis,
    async stop() {
      await consumer.stop();
      await Promise.all(started.map((service) => service.app.close()));
      await pool.end();
      await redis.close();
    },
  };
}

export async function json<T = Record<string, unknown>>(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON; the test looks at the text.
  }
  return { status: response.status, body: body as T, headers: response.headers };
}

export const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  json(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(payload),
  });

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
