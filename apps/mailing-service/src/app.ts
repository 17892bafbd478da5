import { Counter } from "prom-client";
import { createAuthenticator } from "../../shared/src/authenticate.ts";
import type { ServiceIdentity } from "../../shared/src/identity.ts";
import { publishEvent, type RedisClient } from "../../shared/src/queue.ts";
import { createService, type Service } from "../../shared/src/service.ts";
import type { MailingConfig } from "./config.ts";
import { SENT_LIST, startConsumer, type QueueConsumer } from "./consumer.ts";
import type { SentMessage } from "./mail.ts";

export interface MailingService extends Service {
  /** Starts reading the queue; the caller stops it (before closing the Redis client). */
  startConsumer(): Promise<QueueConsumer>;
}

interface MessageRequest {
  to: string;
  subject: string;
  body: string;
}

export function createMailingService(
  config: MailingConfig,
  identity: ServiceIdentity,
  redis: RedisClient,
): MailingService {
  let consumer: QueueConsumer | undefined;
  const service = createService({
    identity,
    peers: config.peers,
    propagateTraceHeaders: config.propagateTraceHeaders,
    logLevel: config.logLevel,
    readinessChecks: {
      redis: () => redis.ping(),
      consumer: async () => {
        if (!consumer?.running()) throw new Error("queue consumer not running");
      },
    },
  });
  const { app } = service;
  const authenticate = createAuthenticator(service, config.auth);
  const sent = new Counter({
    name: "mailing_messages_sent_total",
    help: "Mails sent by the queue consumer, by event type",
    labelNames: ["type"],
    registers: [service.metrics.registry],
  });

  app.post<{ Body: MessageRequest }>(
    "/send-message",
    {
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["to", "subject", "body"],
          properties: {
            to: { type: "string", format: "email", maxLength: 254 },
            subject: { type: "string", minLength: 1, maxLength: 200 },
            body: { type: "string", minLength: 1, maxLength: 5000 },
          },
        },
      },
    },
    async (request, reply) => {
      const user = await authenticate(request);
      // Queued, not sent: the consumer sends it, which is why the answer is 202.
      const eventId = await publishEvent(redis, config.eventsStream, {
        type: "message.requested",
        payload: { ...request.body, from: user.sub },
        traceId: request.trace.traceId,
        traceHeaders: request.trace.traceHeaders,
      });
      return reply.code(202).send({ queued: true, eventId, served: service.served(request) });
    },
  );

  app.get<{ Querystring: { limit: number } }>(
    "/messages",
    {
      schema: {
        querystring: {
          type: "object",
          properties: { limit: { type: "integer", minimum: 1, maximum: 200, default: 10 } },
        },
      },
    },
    async (request) => {
      const raw = await redis.lRange(SENT_LIST, 0, request.query.limit - 1);
      const messages = raw.map((item) => JSON.parse(item) as SentMessage);
      return { messages, served: service.served(request) };
    },
  );

  return Object.assign(service, {
    async startConsumer() {
      consumer = await startConsumer(redis, {
        stream: config.eventsStream,
        group: config.consumerGroup,
        consumer: identity.pod,
        keepSent: config.keepSent,
        claimMinIdleMs: config.claimMinIdleMs,
        identity,
        log: app.log,
        sent,
      });
      return consumer;
    },
  });
}
