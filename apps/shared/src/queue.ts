import { createClient } from "redis";

/**
 * The queue between image-processor (and mailing-service's own /send-message) and the mailing
 * consumer: a Redis Stream read through a consumer group, so each event is handled by one mailing
 * pod and stays pending until acknowledged if that pod dies.
 */
function createRedisClient(url: string) {
  return createClient({
    url,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000) },
  });
}

export type RedisClient = ReturnType<typeof createRedisClient>;

export const DEFAULT_EVENTS_STREAM = "workshop:events";

export interface QueueEvent {
  readonly type: "image.saved" | "image.replaced" | "image.deleted" | "message.requested";
  /** JSON-encoded event body. */
  readonly payload: unknown;
  readonly traceId: string;
  /** Trace headers of the request that published the event, so the consumer can log in that trace. */
  readonly traceHeaders: Readonly<Record<string, string>>;
}

export interface ReceivedEvent extends QueueEvent {
  readonly id: string;
}

/** Connects with a bounded reconnect back-off; errors are logged, not thrown, between attempts. */
export async function connectRedis(url: string, onError: (error: Error) => void): Promise<RedisClient> {
  const client = createRedisClient(url);
  client.on("error", onError);
  await client.connect();
  return client;
}

export function encodeEvent(event: QueueEvent): Record<string, string> {
  return {
    type: event.type,
    payload: JSON.stringify(event.payload),
    traceId: event.traceId,
    traceHeaders: JSON.stringify(event.traceHeaders),
  };
}

export function decodeEvent(id: string, fields: Record<string, string>): ReceivedEvent {
  const parse = (text: string | undefined, fallback: unknown) => {
    try {
      return text === undefined ? fallback : JSON.parse(text);
    } catch {
      return fallback;
    }
  };
  return {
    id,
    type: fields["type"] as QueueEvent["type"],
    payload: parse(fields["payload"], null),
    traceId: fields["traceId"] ?? "",
    traceHeaders: parse(fields["traceHeaders"], {}) as Record<string, string>,
  };
}

export async function publishEvent(redis: RedisClient, stream: string, event: QueueEvent): Promise<string> {
  // Approximate trimming keeps the stream bounded without making every XADD pay for exact trimming.
  return redis.xAdd(stream, "*", encodeEvent(event), {
    TRIM: { strategy: "MAXLEN", strategyModifier: "~", threshold: 10_000 },
  });
}
