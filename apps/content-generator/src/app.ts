import { setTimeout as sleep } from "node:timers/promises";
import { Counter } from "prom-client";
import type { ServiceIdentity } from "../../shared/src/identity.ts";
import { createService, type Service } from "../../shared/src/service.ts";
import type { ContentGeneratorConfig } from "./config.ts";
import { callExternalApi } from "./external.ts";
import { decideFault, describeFaultMode } from "./faults.ts";
import { generate, type BsType, type Random } from "./phrases.ts";

export interface ContentGeneratorDeps {
  readonly random?: Random;
  readonly now?: () => number;
}

export function createContentGenerator(
  config: ContentGeneratorConfig,
  identity: ServiceIdentity,
  deps: ContentGeneratorDeps = {},
): Service {
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  const service = createService({
    identity,
    peers: {},
    propagateTraceHeaders: config.propagateTraceHeaders,
    logLevel: config.logLevel,
  });
  const { app } = service;
  const faults = new Counter({
    name: "content_generator_injected_faults_total",
    help: "Requests that FAULT_MODE delayed or failed",
    labelNames: ["kind"],
    registers: [service.metrics.registry],
  });

  app.get<{ Querystring: { "bs-type": BsType } }>(
    "/generate-bs",
    {
      schema: {
        querystring: {
          type: "object",
          properties: { "bs-type": { type: "integer", enum: [1, 2, 3], default: 1 } },
        },
      },
    },
    async (request, reply) => {
      const decision = decideFault(config.faultMode, now(), random());
      if (decision.kind === "delay") {
        faults.inc({ kind: "delay" });
        await sleep(decision.ms);
      } else if (decision.kind === "fail") {
        faults.inc({ kind: "error" });
        return reply.code(decision.status).send({
          error: "injected_fault",
          message: `FAULT_MODE=${describeFaultMode(config.faultMode)}: ${decision.reason}`,
          served: service.served(request),
        });
      }
      const bsType = request.query["bs-type"];
      const generated = generate(bsType, identity.version, random);
      const external =
        config.externalApiUrl === ""
          ? undefined
          : await callExternalApi(
              config.externalApiUrl,
              config.externalApiTimeoutMs,
              config.propagateTraceHeaders ? request.trace.traceHeaders : {},
            );
      // The trace headers as they reached this hop: with the portal and image processor in front,
      // learners (and the tests) can check that the apps carried them through unchanged.
      const receivedTraceHeaders = request.trace.received;
      return { bsType, ...generated, external, receivedTraceHeaders, served: service.served(request) };
    },
  );

  // Helpers for the timeout and retry lessons, in the spirit of httpbin.
  app.get<{ Querystring: { ms: number } }>(
    "/delay",
    {
      schema: {
        querystring: {
          type: "object",
          required: ["ms"],
          properties: { ms: { type: "integer", minimum: 0, maximum: config.maxDelayMs } },
        },
      },
    },
    async (request) => {
      await sleep(request.query.ms);
      return { delayedMs: request.query.ms, served: service.served(request) };
    },
  );

  app.get<{ Params: { code: number } }>(
    "/status/:code",
    {
      schema: {
        params: {
          type: "object",
          required: ["code"],
          properties: { code: { type: "integer", minimum: 200, maximum: 599 } },
        },
      },
    },
    async (request, reply) =>
      reply.code(request.params.code).send({ status: request.params.code, served: service.served(request) }),
  );

  return service;
}
