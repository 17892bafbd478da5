// The mailing consumer against a real Redis: claiming what a dead pod left pending, skipping pending
// entries trimmed from the stream, and readiness turning false while every round fails.
import Fastify from "fastify";
import { Counter, Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SENT_LIST, startConsumer, type QueueConsumer } from "../../apps/mailing-service/src/consumer.ts";
import { connectRedis, encodeEvent, type RedisClient } from "../../apps/shared/src/queue.ts";
import { startRedis, type RedisInstance } from "../../scripts/lib/app/stores.ts";
import { eventually } from "./support/stack.ts";

let server: RedisInstance;
let redis: RedisClient;
const log = Fastify({ logger: { level: "silent" } }).log;
const identity = { service: "mailing-service", version: "v1", pod: "mailing-live" };

beforeAll(async () => {
  server = await startRedis();
  redis = await connectRedis(server.url, () => undefined);
});

afterAll(async () => {
  await redis?.close();
  await server?.stop();
});

function options(stream: string, consumer: string, claimMinIdleMs = 60_000) {
  return {
    stream,
    group: "mailing",
    consumer,
    keepSent: 200,
    identity,
    log,
    sent: new Counter({
      name: "sent",
      help: "sent",
      labelNames: ["type"] as const,
      registers: [new Registry()],
    }),
    claimMinIdleMs,
    retryDelayMs: 50,
  };
}

const message = (subject: string) =>
  encodeEvent({
    type: "message.requested",
    payload: { to: "x@example.com", subject, body: "b", from: "alice" },
    traceId: "t",
    traceHeaders: {},
  });

async function sentSubjects(): Promise<string[]> {
  const raw = await redis.lRange(SENT_LIST, 0, -1);
  return raw.map((item) => (JSON.parse(item) as { subject: string }).subject);
}

/** Reads entries as `consumer` without acknowledging them: what a pod that dies mid-way leaves. */
async function readAsDeadConsumer(stream: string, consumer: string): Promise<void> {
  await redis.sendCommand(["XGROUP", "CREATE", stream, "mailing", "0", "MKSTREAM"]);
  await redis.sendCommand(["XREADGROUP", "GROUP", "mailing", consumer, "STREAMS", stream, ">"]);
}

describe("mailing consumer", () => {
  it("claims entries another consumer left pending", async () => {
    await redis.xAdd("claim:events", "*", message("orphan 1"));
    await redis.xAdd("claim:events", "*", message("orphan 2"));
    await readAsDeadConsumer("claim:events", "mailing-dead");
    const consumer = await startConsumer(redis, options("claim:events", "mailing-live", 200));
    try {
      await eventually("the orphaned mails", async () => {
        const subjects = await sentSubjects();
        return subjects.includes("orphan 1") && subjects.includes("orphan 2") ? true : undefined;
      });
      const pending = (await redis.sendCommand(["XPENDING", "claim:events", "mailing"])) as [number];
      expect(Number(pending[0])).toBe(0);
    } finally {
      await consumer.stop();
    }
  });

  it("acknowledges its own pending entries that were trimmed, then goes on", async () => {
    const first = await redis.xAdd("trim:events", "*", message("trimmed"));
    await redis.xAdd("trim:events", "*", message("kept pending"));
    await readAsDeadConsumer("trim:events", "mailing-restarted");
    await redis.xDel("trim:events", first);
    const consumer = await startConsumer(redis, options("trim:events", "mailing-restarted"));
    try {
      await redis.xAdd("trim:events", "*", message("after restart"));
      await eventually("the mails around the trimmed entry", async () => {
        const subjects = await sentSubjects();
        return subjects.includes("kept pending") && subjects.includes("after restart") ? true : undefined;
      });
      expect(consumer.running()).toBe(true);
      const pending = (await redis.sendCommand(["XPENDING", "trim:events", "mailing"])) as [number];
      expect(Number(pending[0])).toBe(0);
    } finally {
      await consumer.stop();
    }
  });

  it("reports not running while every round fails", async () => {
    const consumer: QueueConsumer = await startConsumer(redis, options("gone:events", "mailing-live"));
    try {
      expect(consumer.running()).toBe(true);
      // The group disappears: every XREADGROUP fails with NOGROUP.
      await redis.del("gone:events");
      await eventually("the consumer to report failure", async () => (consumer.running() ? undefined : true));
    } finally {
      await consumer.stop();
    }
  });
});
