// The whole application in one process against real PostgreSQL and Redis: portal -> content
// generator, portal -> image processor -> PostgreSQL + queue -> mailing service, and trace headers
// carried unchanged three hops down.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS, migrate } from "../../apps/image-processor/src/db.ts";
import {
  startPostgres,
  startRedis,
  type PostgresInstance,
  type RedisInstance,
} from "../../scripts/lib/app/stores.ts";
import { eventually, json, post, startStack, type Stack } from "./support/stack.ts";

let postgres: PostgresInstance;
let redis: RedisInstance;
let stack: Stack;
let brokenTraces: Stack;

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  stack = await startStack({ postgresUrl: postgres.url, redisUrl: redis.url });
  brokenTraces = await startStack({
    postgresUrl: postgres.url,
    redisUrl: redis.url,
    env: { PROPAGATE_TRACE_HEADERS: "false", EVENTS_STREAM: "broken:events" },
  });
});

afterAll(async () => {
  await brokenTraces?.stop();
  await stack?.stop();
  await Promise.all([postgres?.stop(), redis?.stop()]);
});

async function login(user = "alice", password = "wonderland"): Promise<string> {
  const response = await post(`${stack.urls.portal}/api/login`, { username: user, password });
  expect(response.status).toBe(200);
  const cookie = response.headers.get("set-cookie") ?? "";
  expect(cookie).toMatch(/^workshop_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=900/);
  return cookie.split(";")[0] as string;
}

interface Relayed {
  ok: boolean;
  result: Record<string, unknown> & {
    image?: { id: string; name: string; nameSource: string; owner: string };
  };
  parts: { peer: string; served: { service: string; version: string } }[];
}

describe("portal -> content-generator", () => {
  it("renders generated content with the version and pod that served each card", async () => {
    const response = await fetch(`${stack.urls.portal}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-service")).toBe("frontend-portal");
    const html = await response.text();
    expect(html.match(/data-testid="content-card"/g)).toHaveLength(3);
    expect(html).toContain('data-service="content-generator" data-version="v2"');
    expect(html).toContain("content-generator-test");
    // The page's own trace id is shown, and the parts were served in the same trace.
    const traceId = response.headers.get("x-trace-id") as string;
    expect(html).toContain(`data-trace-id="${traceId}"`);
    expect(html).not.toContain("different trace");
  });

  it("relays one content call as JSON with who served it", async () => {
    const { status, body } = await json<Relayed>(`${stack.urls.portal}/api/content?bs-type=2`);
    expect(status).toBe(200);
    expect(body.result["text"]).toMatch(/ ★$/);
    expect(body.parts[0]?.served).toMatchObject({ service: "content-generator", version: "v2" });
  });

  it("explains a bad query", async () => {
    const { status, body } = await json<{ message: string }>(`${stack.urls.portal}/api/content?bs-type=7`);
    expect(status).toBe(400);
    expect(body.message).toContain("bs-type");
  });

  it("reports every peer reachable", async () => {
    const { status, body } = await json<{ failing: string[]; peers: unknown[] }>(
      `${stack.urls.portal}/test-services-conns`,
    );
    expect(status).toBe(200);
    expect(body.failing).toEqual([]);
    expect(body.peers).toHaveLength(4);
  });
});

describe("image-processor -> PostgreSQL and the queue -> mailing-service", () => {
  it("applied the migrations once and finds nothing left to apply", async () => {
    const { rows } = await stack.pool.query<{ id: number }>("SELECT id FROM schema_migrations ORDER BY id");
    expect(rows.map((row) => row.id)).toEqual(MIGRATIONS.map((migration) => migration.id));
    expect(await migrate(stack.pool)).toEqual([]);
  });

  it("saves image metadata named by the content generator and mails the owner", async () => {
    const cookie = await login();
    const saved = await post(
      `${stack.urls.portal}/api/images`,
      { title: "Chain test", format: "png", width: 800, height: 600 },
      { cookie },
    );
    expect(saved.status).toBe(201);
    const image = (saved.body as unknown as Relayed).result.image!;
    expect(image.owner).toBe("alice");
    expect(image.nameSource).toBe("content-generator v2");
    const { rows } = await stack.pool.query("SELECT title, width, owner FROM images WHERE id = $1", [
      image.id,
    ]);
    expect(rows).toEqual([{ title: "Chain test", width: 800, owner: "alice" }]);

    const mail = await eventually("the image mail", async () => {
      const { body } = await json<{ messages: { subject: string; to: string }[] }>(
        `${stack.urls.mailing}/messages`,
      );
      return body.messages.find((message) => message.subject === "Image saved: Chain test");
    });
    expect(mail.to).toBe("alice@workshop.local");
  });

  it("queues a message and the consumer records it as sent", async () => {
    const cookie = await login("bob", "builder");
    const queued = await post(
      `${stack.urls.portal}/api/messages`,
      { to: "carol@example.com", subject: "Queue test", body: "hello through redis" },
      { cookie },
    );
    expect(queued.status).toBe(202);
    const sent = await eventually("the sent message", async () => {
      const { body } = await json<{ messages: { subject: string; sentBy: { service: string } }[] }>(
        `${stack.urls.mailing}/messages?limit=50`,
      );
      return body.messages.find((message) => message.subject === "Queue test");
    });
    expect(sent.sentBy.service).toBe("mailing-service");
  });

  it("replaces and deletes an image, with 404 for an unknown id", async () => {
    const token = (
      (await post(`${stack.urls.auth}/authorize`, { username: "alice", password: "wonderland" })).body as {
        token: string;
      }
    ).token;
    const auth = { authorization: `Bearer ${token}` };
    const saved = await post(
      `${stack.urls.images}/save-image`,
      { title: "Old", format: "gif", width: 1, height: 2 },
      auth,
    );
    const id = (saved.body as { image: { id: string } }).image.id;

    const replaced = await json<{ image: { title: string; format: string; height: number } }>(
      `${stack.urls.images}/replace-image`,
      {
        method: "PUT",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ id, title: "New" }),
      },
    );
    expect(replaced.status).toBe(200);
    expect(replaced.body.image).toMatchObject({ title: "New", format: "gif", height: 2 });

    const deleted = await json(`${stack.urls.images}/delete-image?id=${id}`, {
      method: "DELETE",
      headers: auth,
    });
    expect(deleted.status).toBe(200);
    const again = await json<{ message: string }>(`${stack.urls.images}/delete-image?id=${id}`, {
      method: "DELETE",
      headers: auth,
    });
    expect(again.status).toBe(404);
    expect(again.body.message).toContain(id);
  });

  it("rejects invalid metadata with a message naming the field, and anonymous writes with 401", async () => {
    const cookie = await login();
    const invalid = await post(
      `${stack.urls.portal}/api/images`,
      { title: "x", format: "bmp", width: 1, height: 1 },
      { cookie },
    );
    expect(invalid.status).toBe(400);
    expect(JSON.stringify(invalid.body)).toContain("format must be equal to one of the allowed values");

    const anonymous = await post(`${stack.urls.images}/save-image`, {
      title: "x",
      format: "png",
      width: 1,
      height: 1,
    });
    expect(anonymous.status).toBe(401);
    expect((anonymous.body as { message: string }).message).toContain("Bearer");
  });

  it("is ready while its stores answer", async () => {
    for (const url of [stack.urls.images, stack.urls.mailing]) {
      const { status, body } = await json<{ ready: boolean; checks: Record<string, string> }>(
        `${url}/readyz`,
      );
      expect(status).toBe(200);
      expect(body.checks["redis"]).toBe("ok");
    }
  });
});

describe("trace headers", () => {
  const sent = {
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    tracestate: "congo=t61rcWkgMzE",
    "x-request-id": "7f0c5d7e-3c1b-4a57-9d5e-0123456789ab",
    "x-b3-traceid": "4bf92f3577b34da6a3ce929d0e0e4736",
    "x-b3-spanid": "00f067aa0ba902b7",
    "x-b3-parentspanid": "a3ce929d0e0e4736",
    "x-b3-sampled": "1",
    baggage: "lesson=tracing",
  };

  it("arrive unchanged three hops down: client -> portal -> image-processor -> content-generator", async () => {
    const cookie = await login();
    const { status, body } = await post(
      `${stack.urls.portal}/api/images`,
      { title: "Traced", format: "webp", width: 3, height: 3 },
      { cookie, ...sent },
    );
    expect(status).toBe(201);
    const naming = (
      body as unknown as { result: { naming: { receivedTraceHeaders: Record<string, string> } } }
    ).result.naming;
    expect(naming.receivedTraceHeaders).toEqual(sent);
  });

  it("are dropped when propagation is switched off, so each hop starts its own trace", async () => {
    const response = await fetch(`${brokenTraces.urls.portal}/`, { headers: sent });
    const html = await response.text();
    expect(response.headers.get("x-trace-id")).toBe(sent["x-b3-traceid"]);
    expect(html).toContain("different trace");
    const relayed = await json<Relayed & { result: { receivedTraceHeaders: Record<string, string> } }>(
      `${brokenTraces.urls.portal}/api/content`,
      { headers: sent },
    );
    expect(relayed.body.result.receivedTraceHeaders).toEqual({});
  });
});
