import type { FastifyBaseLogger } from "fastify";
import type { Counter } from "prom-client";
import type { ServiceIdentity } from "../../shared/src/identity.ts";
import { decodeEvent, type RedisClient } from "../../shared/src/queue.ts";
import { mailFor } from "./mail.ts";

export const SENT_LIST = "mailing:sent";

export interface ConsumerOptions {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly keepSent: number;
  readonly identity: ServiceIdentity;
  readonly log: FastifyBaseLogger;
  readonly sent: Counter<"type">;
}

export interface QueueConsumer {
  readonly running: () => boolean;
  stop(): Promise<void>;
}

/** Creates the consumer group (and the stream) unless it exists; reads the backlog from the start. */
export async function ensureGroup(redis: RedisClient, stream: string, group: string): Promise<void> {
  try {
    await redis.xGroupCreate(stream, group, "0", { MKSTREAM: true });
  } catch (error) {
    if (!(error instanceof Error && error.message.includes("BUSYGROUP"))) throw error;
  }
}

/**
 * Reads the stream through the consumer group on a dedicated connection (XREADGROUP BLOCK holds it),
 * "sends" each event as a mail, records it, then acknowledges it. Starts with this consumer's pending
 * entries, left unacknowledged by a previous run under the same pod name.
 */
export async function startConsumer(redis: RedisClient, options: ConsumerOptions): Promise<QueueConsumer> {
  await ensureGroup(redis, options.stream, options.group);
  const reader = redis.duplicate();
  reader.on("error", (error: Error) => options.log.warn({ err: error }, "queue reader connection error"));
  await reader.connect();
  let active = true;
  let cursor = "0";

  const loop = (async () => {
    while (active) {
      try {
        const batches = await reader.xReadGroup(
          options.group,
          options.consumer,
          [{ key: options.stream, id: cursor }],
          { COUNT: 20, BLOCK: 500 },
        );
        const messages = batches?.[0]?.messages ?? [];
        if (cursor === "0" && messages.length === 0) cursor = ">";
        for (const entry of messages) {
          const event = decodeEvent(entry.id, entry.message as Record<string, string>);
          const mail = mailFor(event, options.identity, new Date());
          await redis
            .multi()
            .lPush(SENT_LIST, JSON.stringify(mail))
            .lTrim(SENT_LIST, 0, options.keepSent - 1)
            .xAck(options.stream, options.group, entry.id)
            .exec();
          options.sent.inc({ type: event.type });
          options.log.info(
            { traceId: event.traceId, eventId: entry.id, to: mail.to, type: event.type },
            "mail sent",
          );
        }
      } catch (error) {
        if (!active) break;
        options.log.warn({ err: error }, "queue read failed, retrying");
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  })();

  return {
    running: () => active,
    async stop() {
      active = false;
      await loop;
      await reader.close().catch(() => undefined);
    },
  };
}
