import { randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";
import { Counter } from "prom-client";
import { createAuthenticator } from "../../shared/src/authenticate.ts";
import type { ServiceIdentity } from "../../shared/src/identity.ts";
import { publishEvent, type QueueEvent, type RedisClient } from "../../shared/src/queue.ts";
import { createService, type Service, type Served } from "../../shared/src/service.ts";
import type { FastifyRequest } from "fastify";
import type { ImageProcessorConfig } from "./config.ts";
import { deleteImage, insertImage, listImages, updateImage } from "./db.ts";
import { imageNameFrom, newImageSchema, replaceImageSchema, type NewImage } from "./images.ts";

export interface ImageProcessorDeps {
  readonly pool: pg.Pool;
  readonly redis: RedisClient;
}

interface GeneratedName {
  readonly name: string;
  readonly source: string;
  /** The content generator's stamp, so the portal can show which version named the image. */
  readonly served?: Served;
  readonly receivedTraceHeaders?: Record<string, string>;
  readonly error?: string;
}

export function createImageProcessor(
  config: ImageProcessorConfig,
  identity: ServiceIdentity,
  deps: ImageProcessorDeps,
): Service {
  const { pool, redis } = deps;
  const service = createService({
    identity,
    peers: config.peers,
    propagateTraceHeaders: config.propagateTraceHeaders,
    logLevel: config.logLevel,
    readinessChecks: {
      postgres: () => pool.query("SELECT 1"),
      redis: () => redis.ping(),
    },
  });
  const { app } = service;
  const authenticate = createAuthenticator(service, config.auth);
  const operations = new Counter({
    name: "image_processor_operations_total",
    help: "Image metadata operations by kind",
    labelNames: ["operation"],
    registers: [service.metrics.registry],
  });

  /** Asks the content generator for a name; a fallback keeps saving possible when it is down. */
  async function generateName(request: FastifyRequest): Promise<GeneratedName> {
    const suffix = randomBytes(3).toString("hex");
    try {
      const response = await service.callPeer<{
        text?: string;
        served?: Served;
        receivedTraceHeaders?: Record<string, string>;
      }>(request, "content-generator", "/generate-bs?bs-type=1", { timeoutMs: 2000 });
      if (response.ok && typeof response.body.text === "string") {
        const served = response.body.served;
        return {
          name: imageNameFrom(response.body.text, suffix),
          source: `content-generator ${served?.version ?? "?"}`,
          served,
          receivedTraceHeaders: response.body.receivedTraceHeaders,
        };
      }
      return {
        name: `image-${suffix}`,
        source: "fallback",
        error: `content-generator answered ${response.status}`,
      };
    } catch (error) {
      return { name: `image-${suffix}`, source: "fallback", error: (error as Error).message };
    }
  }

  async function publish(
    request: FastifyRequest,
    type: QueueEvent["type"],
    payload: unknown,
  ): Promise<string> {
    return publishEvent(redis, config.eventsStream, {
      type,
      payload,
      traceId: request.trace.traceId,
      traceHeaders: request.trace.traceHeaders,
    });
  }

  app.get<{ Querystring: { limit: number } }>(
    "/images",
    {
      schema: {
        querystring: {
          type: "object",
          properties: { limit: { type: "integer", minimum: 1, maximum: 100, default: 10 } },
        },
      },
    },
    async (request) => ({
      images: await listImages(pool, request.query.limit),
      served: service.served(request),
    }),
  );

  app.post<{ Body: NewImage }>(
    "/save-image",
    { schema: { body: newImageSchema } },
    async (request, reply) => {
      const user = await authenticate(request);
      const name = await generateName(request);
      const image = await insertImage(pool, {
        ...request.body,
        id: randomUUID(),
        name: name.name,
        owner: user.sub,
        nameSource: name.source,
      });
      const eventId = await publish(request, "image.saved", { image, notify: user.sub });
      operations.inc({ operation: "save" });
      request.log.info({ imageId: image.id, eventId, nameSource: name.source }, "image saved");
      return reply.code(201).send({
        image,
        eventId,
        naming: name,
        served: service.served(request),
      });
    },
  );

  app.put<{ Body: Partial<NewImage> & { id: string } }>(
    "/replace-image",
    { schema: { body: replaceImageSchema } },
    async (request, reply) => {
      const user = await authenticate(request);
      const { id, ...changes } = request.body;
      const image = await updateImage(pool, id, changes);
      if (!image) {
        return reply
          .code(404)
          .send({ error: "not_found", message: `no image with id ${id}`, served: service.served(request) });
      }
      const eventId = await publish(request, "image.replaced", { image, notify: user.sub });
      operations.inc({ operation: "replace" });
      return { image, eventId, served: service.served(request) };
    },
  );

  app.delete<{ Querystring: { id: string } }>(
    "/delete-image",
    {
      schema: {
        querystring: {
          type: "object",
          required: ["id"],
          properties: { id: { type: "string", format: "uuid" } },
        },
      },
    },
    async (request, reply) => {
      const user = await authenticate(request);
      const { id } = request.query;
      if (!(await deleteImage(pool, id))) {
        return reply
          .code(404)
          .send({ error: "not_found", message: `no image with id ${id}`, served: service.served(request) });
      }
      const eventId = await publish(request, "image.deleted", { id, notify: user.sub });
      operations.inc({ operation: "delete" });
      return { deleted: id, eventId, served: service.served(request) };
    },
  );

  return service;
}
