import type { FastifyBaseLogger } from "fastify";
import type { Counter } from "prom-client";
import type { ServiceIdentity } from "../../shared/src/identity.ts";
import { decodeEvent, type RedisClient } from "../../shared/src/queue.ts";
import { mailFor } from "./mail.ts";

export const SENT_LIST = "mailing:sent";

/** Consecutive failed rounds after which running() (and so readiness) turns false. */
export const FAILURES_BEFORE_UNREADY = 3;

export interface ConsumerOptions {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly keepSent: number;
  readonly identity: ServiceIdentity;
  readonly log: FastifyBaseLogger;
  readonly sent: Counter<"type">;
  /**
   * How long an entry must have been pending (under any consumer, e.g. a pod that died) before this
   * consumer claims it with XAUTOCLAIM. Default 60 s; claims run every min(idle / 2, 30 s).
   */
  readonly claimMinIdleMs?: number;
  /** Pause after a failed round (default 500 ms). */
  readonly retryDelayMs?: number;
}

export interface QueueConsumer {
  /** False once stopped, or while the last FAILURES_BEFORE_UNREADY rounds all failed. */
  readonly running: () => boolean;
  stop(): Promise<void>;
}

/** A stream entry as Redis returns it; `fields` is null for a pending entry that was trimmed away. */
interface RawEntry {
  readonly id: string;
  readonly fields: Record<string, string> | null;
}

/** Creates the consumer group (and the stream) unless it exists; reads the backlog from the start. */
export async function ensureGroup(redis: RedisClient, stream: string, group: string): Promise<void> {
  try {
    await redis.xGroupCreate(stream, group, "0", { MKSTREAM: true });
  } catch (error) {
    if (!(error instanceof Error && error.message.includes("BUSYGROUP"))) throw error;
  }
}

function parseEntries(raw: unknown): RawEntry[] {
  if (!Array.isArray(raw)) return [];
  return raw.map((item) => {
    const [id, flat] = item as [unknown, unknown];
    if (flat === null || typeof flat !== "object") return { id: String(id), fields: null };
    const fields: Record<string, string> = {};
    if (Array.isArray(flat)) {
      for (let index = 0; index + 1 < flat.length; index += 2) {
        fields[String(flat[index])] = String(flat[index + 1]);
      }
    } else {
      const pairs = flat instanceof Map ? [...flat.entries()] : Object.entries(flat);
      for (const [key, value] of pairs) fields[String(key)] = String(value);
    }
    return { id: String(id), fields };
  });
}

/** The entries of `stream` in an XREADGROUP reply: an array of [name, entries] pairs, or a map by name. */
function streamEntries(reply: unknown, stream: string): unknown {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply))
    return (reply as [unknown, unknown][]).find(([name]) => String(name) === stream)?.[1];
  if (reply instanceof Map) return reply.get(stream);
  return (reply as Record<string, unknown>)[stream];
}

/**
 * Reads the stream through the consumer group on a dedicated connection (XREADGROUP BLOCK holds it),
 * "sends" each event as a mail, records it, then acknowledges it. Starts with this consumer's pending
 * entries (left unacknowledged by a previous run under the same pod name), walking past each one so a
 * bad entry never stalls it; entries trimmed from the stream while pending are acknowledged and skipped.
 * Periodically claims entries left pending by other consumers (pods that died) with XAUTOCLAIM.
 * Commands are sent raw so nil bodies reach this code instead of failing inside the client.
 */
export async function startConsumer(redis: RedisClient, options: ConsumerOptions): Promise<QueueConsumer> {
  await ensureGroup(redis, options.stream, options.group);
  const reader = redis.duplicate();
  reader.on("error", (error: Error) => options.log.warn({ err: error }, "queue reader connection error"));
  await reader.connect();
  const claimMinIdleMs = options.claimMinIdleMs ?? 60_000;
  const claimEveryMs = Math.max(50, Math.min(claimMinIdleMs / 2, 30_000));
  const retryDelayMs = options.retryDelayMs ?? 500;
  let active = true;
  let failures = 0;
  /** "0"-based ids walk this consumer's own pending entries; ">" reads new ones. */
  let cursor = "0";
  let nextClaimAt = Date.now() + claimEveryMs;

  const handle = async (entry: RawEntry) => {
    if (entry.fields === null) {
      // Pending, but trimmed from the stream: nothing to send, only to forget.
      await redis.xAck(options.stream, options.group, entry.id);
      options.log.warn({ eventId: entry.id }, "pending event no longer in the stream, acknowledged");
      return;
    }
    let mail;
    let type: string;
    try {
      const event = decodeEvent(entry.id, entry.fields);
      type = String(event.type);
      mail = { event, message: mailFor(event, options.identity, new Date()) };
    } catch (error) {
      // A malformed entry would fail the same way forever: drop it, loudly.
      await redis.xAck(options.stream, options.group, entry.id);
      options.log.error({ err: error, eventId: entry.id }, "malformed event acknowledged without a mail");
      return;
    }
    await redis
      .multi()
      .lPush(SENT_LIST, JSON.stringify(mail.message))
      .lTrim(SENT_LIST, 0, options.keepSent - 1)
      .xAck(options.stream, options.group, entry.id)
      .exec();
    options.sent.inc({ type });
    options.log.info(
      { traceId: mail.event.traceId, eventId: entry.id, to: mail.message.to, type },
      "mail sent",
    );
  };

  const claim = async () => {
    let start = "0-0";
    // One pass over the pending entries list, bounded so reading new events is not starved.
    for (let page = 0; page < 10; page++) {
      const reply = (await reader.sendCommand([
        "XAUTOCLAIM",
        options.stream,
        options.group,
        options.consumer,
        String(claimMinIdleMs),
        start,
        "COUNT",
        "20",
      ])) as [unknown, unknown, unknown?];
      const entries = parseEntries(reply[1]);
      if (entries.length > 0) options.log.info({ claimed: entries.length }, "claimed stale pending events");
      for (const entry of entries) await handle(entry);
      start = String(reply[0]);
      if (start === "0-0") break;
    }
  };

  const readOnce = async () => {
    const reply = (await reader.sendCommand([
      "XREADGROUP",
      "GROUP",
      options.group,
      options.consumer,
      "COUNT",
      "20",
      ...(cursor === ">" ? ["BLOCK", "500"] : []),
      "STREAMS",
      options.stream,
      cursor,
    ])) as unknown;
    const entries = parseEntries(streamEntries(reply, options.stream));
    if (cursor !== ">") {
      if (entries.length === 0) cursor = ">";
      else cursor = entries[entries.length - 1]!.id;
    }
    for (const entry of entries) await handle(entry);
  };

  const loop = (async () => {
    while (active) {
      try {
        if (Date.now() >= nextClaimAt) {
          nextClaimAt = Date.now() + claimEveryMs;
          await claim();
        }
        await readOnce();
        failures = 0;
      } catch (error) {
        if (!active) break;
        failures++;
        // The backlog is walked again from the start after a failure; entries handled so far are gone.
        if (cursor !== ">") cursor = "0";
        options.log.warn({ err: error, failures }, "queue read failed, retrying");
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      }
    }
  })();

  return {
    running: () => active && failures < FAILURES_BEFORE_UNREADY,
    async stop() {
      active = false;
      await loop;
      await reader.close().catch(() => undefined);
    },
  };
}
