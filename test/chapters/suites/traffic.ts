/** Chapters 09-14: traffic management and resilience for content-generator and the portal. */
import { describe, expect, it } from "vitest";
import { decideFault, parseFaultMode } from "../../../apps/content-generator/src/faults.ts";
import { heredocObjects, lesson, shellCommands, syncPause } from "../lesson.ts";
import { durationMs, envOf, rendered, route, routeNames, type Loose } from "../render-cache.ts";

const CG = "content-generator.workshop.svc.cluster.local";
const PORTAL = "frontend-portal.workshop.svc.cluster.local";

async function contentGenerator(chapter: number): Promise<{ vs: Loose; dr: Loose }> {
  const r = await rendered("primary", chapter);
  return {
    vs: r.mesh("VirtualService", "workshop", "content-generator"),
    dr: r.mesh("DestinationRule", "workshop", "content-generator"),
  };
}

const subsetsOf = (dr: Loose): string[] => (dr.spec.subsets ?? []).map((s: Loose) => s.name);

/** Whether Envoy retries an upstream answer of this status under an Istio `retryOn` list. */
function retriesStatus(retryOn: string, status: number): boolean {
  const on = retryOn.split(",").map((x) => x.trim());
  return (
    on.includes(String(status)) ||
    (on.includes("5xx") && status >= 500) ||
    (on.includes("gateway-error") && status >= 502 && status <= 504)
  );
}

/** Envoy ejects while (ejected + 1) / pool * 100 <= max_ejection_percent: the most it will eject. */
const maxEjectable = (pool: number, percent: number) => Math.floor((pool * percent) / 100);
const destinations = (r: Loose) => r.route.map((d: Loose) => [d.destination.subset, d.weight]);

describe("every chapter from 09 on", () => {
  it.each([9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19])(
    "chapter %i routes only to subsets its DestinationRules define",
    async (chapter) => {
      const r = await rendered("primary", chapter);
      const subsets = new Map<string, string[]>();
      for (const dr of r.meshOfKind("DestinationRule")) {
        subsets.set((dr.spec as Loose).host, subsetsOf(dr));
      }
      for (const vs of r.meshOfKind("VirtualService")) {
        for (const http of ((vs.spec as Loose).http ?? []) as Loose[]) {
          const targets = [
            ...(http.route ?? []).map((d: Loose) => d.destination),
            ...(http.mirror ? [http.mirror] : []),
          ];
          for (const d of targets) {
            if (d.subset)
              expect(subsets.get(d.host), `${vs.metadata.name}/${http.name} -> ${d.host}`).toContain(
                d.subset,
              );
          }
          const weights = (http.route as Loose[]).map((d) => d.weight).filter((w) => w !== undefined);
          if (weights.length) expect(weights.reduce((a: number, b: number) => a + b, 0)).toBe(100);
        }
      }
    },
  );
});

describe("09 traffic splitting, basic", () => {
  it("names v1, v2 and v3 by their version label", async () => {
    const { dr } = await contentGenerator(9);
    expect(dr.spec.host).toBe(CG);
    expect(dr.spec.subsets).toEqual([
      { name: "v1", labels: { version: "v1" } },
      { name: "v2", labels: { version: "v2" } },
      { name: "v3", labels: { version: "v3" } },
    ]);
  });

  it("sends 90% to v1 and 10% to v2, whatever the replica counts", async () => {
    const { vs } = await contentGenerator(9);
    expect(routeNames(vs)).toEqual(["default"]);
    expect(destinations(route(vs, "default"))).toEqual([
      ["v1", 90],
      ["v2", 10],
    ]);
    const r = await rendered("primary", 9);
    expect(r.app("Deployment", "content-generator-v1").spec.replicas).toBe(2);
    expect(r.app("Deployment", "content-generator-v2").spec.replicas).toBe(2);
    expect(r.app("Deployment", "content-generator-v1").spec.template.metadata.labels.version).toBe("v1");
  });
});

describe("10 traffic splitting, advanced", () => {
  it("pins helper paths to v1, canaries v2 for admins, keeps 90/10 for the rest, in that order", async () => {
    const { vs } = await contentGenerator(10);
    expect(routeNames(vs)).toEqual(["helpers-by-path", "admins-canary", "default"]);
    expect(route(vs, "helpers-by-path").match.map((m: Loose) => m.uri.prefix)).toEqual([
      "/delay",
      "/status/",
    ]);
    expect(route(vs, "helpers-by-path").route[0].destination.subset).toBe("v1");
    expect(route(vs, "admins-canary").match[0].headers["x-workshop-group"]).toEqual({ exact: "admins" });
    expect(destinations(route(vs, "admins-canary"))).toEqual([["v2", undefined]]);
    expect(destinations(route(vs, "default"))).toEqual([
      ["v1", 90],
      ["v2", 10],
    ]);
  });

  it("runs a green portal beside the blue one, previewed by cookie, with blue live", async () => {
    const r = await rendered("primary", 10);
    expect(r.hasApp("Deployment", "frontend-portal-v2")).toBe(true);
    const dr = r.mesh("DestinationRule", "workshop", "frontend-portal");
    expect(dr.spec.subsets).toEqual([
      { name: "blue", labels: { version: "v1" } },
      { name: "green", labels: { version: "v2" } },
    ]);
    const vs = r.mesh("VirtualService", "workshop", "frontend-portal-ingress");
    expect(routeNames(vs)).toEqual(["green-by-cookie", "default"]);
    const cookie = new RegExp(route(vs, "green-by-cookie").match[0].headers.cookie.regex);
    expect(cookie.test("portal-color=green")).toBe(true);
    expect(cookie.test("workshop_session=abc; portal-color=green")).toBe(true);
    expect(cookie.test("portal-color=blue")).toBe(false);
    expect(route(vs, "green-by-cookie").route[0].destination).toMatchObject({
      host: PORTAL,
      subset: "green",
    });
    expect(route(vs, "default").route[0].destination).toMatchObject({ host: PORTAL, subset: "blue" });
  });
});

describe("11 sticky sessions", () => {
  it("hashes the blue portal on an Envoy-generated cookie", async () => {
    const dr = (await rendered("primary", 11)).mesh("DestinationRule", "workshop", "frontend-portal");
    const blue = dr.spec.subsets.find((s: Loose) => s.name === "blue");
    expect(blue.trafficPolicy.loadBalancer.consistentHash.httpCookie).toEqual({
      name: "portal-affinity",
      path: "/",
      ttl: "3600s",
    });
  });

  it("hashes content-generator v1 on the user and routes users to that single subset", async () => {
    const { vs, dr } = await contentGenerator(11);
    const v1 = dr.spec.subsets.find((s: Loose) => s.name === "v1");
    expect(v1.trafficPolicy.loadBalancer.consistentHash.httpHeaderName).toBe("x-workshop-user");
    expect(routeNames(vs)).toEqual(["helpers-by-path", "admins-canary", "sticky-users", "default"]);
    const sticky = route(vs, "sticky-users");
    expect(sticky.match[0].headers["x-workshop-user"].regex).toBe(".+");
    // One destination and no weight: a weighted split would re-pick the subset per request.
    expect(destinations(sticky)).toEqual([["v1", undefined]]);
  });

  it("runs several pods per sticky subset", async () => {
    const r = await rendered("primary", 11);
    expect(r.app("Deployment", "frontend-portal-v1").spec.replicas).toBe(3);
    expect(r.app("Deployment", "content-generator-v1").spec.replicas).toBe(3);
  });
});

describe("12 mirroring", () => {
  it("mirrors 25% of the default route to v3, which now has a pod", async () => {
    const { vs } = await contentGenerator(12);
    const def = route(vs, "default");
    expect(def.mirror).toEqual({ host: CG, subset: "v3" });
    expect(def.mirrorPercentage).toEqual({ value: 25 });
    // The live traffic is unchanged: v3 only ever sees copies.
    expect(destinations(def)).toEqual([
      ["v1", 90],
      ["v2", 10],
    ]);
    expect((await rendered("primary", 12)).app("Deployment", "content-generator-v3").spec.replicas).toBe(1);
    expect((await rendered("primary", 11)).app("Deployment", "content-generator-v3").spec.replicas).toBe(0);
  });
});

describe("12 mirroring: what v3 sees", () => {
  /** Envoy's shadow authority: `-shadow` after the host, before the port (router's shadow writer). */
  const shadowHost = (host: string) => host.replace(/^([^:]+)(:\d+)?$/, "$1-shadow$2");

  it("names the Host the copies really carry: the caller's, with -shadow", async () => {
    const r = await rendered("primary", 12);
    const text = lesson("12-mirroring");
    const hosts = new Set(
      ["frontend-portal-v1", "image-processor-v1"].map(
        (d) => new URL(envOf(r.app("Deployment", d)).ISTIO_SVC_CONTENT_GENERATOR!).host,
      ),
    );
    expect([...hosts]).toEqual(["content-generator"]);
    for (const host of hosts) expect(text).toContain(`\`${shadowHost(host)}\``);
    expect(shadowHost("content-generator:8080")).toBe("content-generator-shadow:8080");
    expect(text).not.toContain("cluster.local-shadow");
    expect(text).not.toMatch(/separate traces/);
  });
});

describe("13 fault injection", () => {
  it("delays every call of the users group by 2.5 s and aborts 10% with a 503", async () => {
    const { vs } = await contentGenerator(13);
    expect(routeNames(vs)).toEqual([
      "helpers-by-path",
      "admins-canary",
      "users-faults",
      "sticky-users",
      "default",
    ]);
    const faults = route(vs, "users-faults");
    expect(faults.match[0].headers["x-workshop-group"]).toEqual({ exact: "users" });
    expect(durationMs(faults.fault.delay.fixedDelay)).toBe(2500);
    expect(faults.fault.delay.percentage.value).toBe(100);
    expect(faults.fault.abort).toEqual({ httpStatus: 503, percentage: { value: 10 } });
  });

  it("exposes the mismatch: the delay beats image-processor's 2 s but not the portal's 3 s", async () => {
    const r = await rendered("primary", 13);
    const delay = durationMs(
      route(r.mesh("VirtualService", "workshop", "content-generator"), "users-faults").fault.delay.fixedDelay,
    );
    const portalTimeout = Number(
      r
        .app("Deployment", "frontend-portal-v1")
        .spec.template.spec.containers[0].env.find((e: Loose) => e.name === "PEER_TIMEOUT_MS")?.value ?? 3000,
    );
    expect(delay).toBeLessThan(portalTimeout);
    expect(delay).toBeGreaterThan(2000); // image-processor's hard-coded deadline for content-generator
  });

  it("contains slow answers with 2 s route timeouts", async () => {
    const { vs } = await contentGenerator(13);
    expect(route(vs, "helpers-by-path").timeout).toBe("2s");
    expect(route(vs, "default").timeout).toBe("2s");
    expect(route(vs, "default").mirror.subset).toBe("v3");
  });
});

describe("14 circuit breakers", () => {
  it("limits the connection pool, ejects failing pods and budgets retries", async () => {
    const { dr } = await contentGenerator(14);
    const policy = dr.spec.trafficPolicy;
    expect(policy.connectionPool.tcp.maxConnections).toBe(10);
    expect(policy.connectionPool.http.http1MaxPendingRequests).toBe(10);
    expect(policy.outlierDetection).toMatchObject({
      consecutive5xxErrors: 3,
      interval: "5s",
      baseEjectionTime: "30s",
    });
    expect(policy.outlierDetection.maxEjectionPercent).toBeLessThanOrEqual(50);
    expect(policy.retryBudget).toEqual({ percent: 20, minRetryConcurrency: 3 });
    // The sticky subset keeps its own load balancer; pool and outlier settings are inherited.
    expect(dr.spec.subsets[0].trafficPolicy.connectionPool).toBeUndefined();
  });

  it("retries within the route timeout", async () => {
    const { vs } = await contentGenerator(14);
    const def = route(vs, "default");
    expect(def.retries.attempts).toBe(2);
    expect(def.retries.retryOn).toContain("connect-failure");
    expect((def.retries.attempts + 1) * durationMs(def.retries.perTryTimeout)).toBeLessThanOrEqual(
      durationMs(def.timeout),
    );
  });

  it("retries the demo's bad pod's answer, so the lesson's 'only Code 200' holds", async () => {
    const { vs } = await contentGenerator(14);
    const retryOn: string = route(vs, "default").retries.retryOn;
    const text = lesson("14-circuit-breakers");
    const bad = heredocObjects(text).find((o) => o.kind === "Pod");
    const mode = bad.spec.containers[0].env.find((e: Loose) => e.name === "FAULT_MODE").value;
    const decision = decideFault(parseFaultMode(mode), 0, 0);
    expect(decision.kind).toBe("fail");
    const status = (decision as { status: number }).status;
    expect(status).toBe(500);
    expect(retriesStatus(retryOn, status), `retryOn ${retryOn} must retry a ${status}`).toBe(true);
    // The old policy retried only 503: the 500 reached the caller.
    expect(retriesStatus("connect-failure,refused-stream,reset,503", status)).toBe(false);
    expect(text).toContain("retryOn: 5xx");
    expect(text).not.toMatch(/answers from v1 via retries/);
  });

  it("adds the bad pod to v1's pool, where outlier detection may eject it; a whole bad v2 keeps one pod", async () => {
    const r = await rendered("primary", 14);
    const { dr } = await contentGenerator(14);
    const text = lesson("14-circuit-breakers");
    const bad = heredocObjects(text).find((o) => o.kind === "Pod");
    const v1 = dr.spec.subsets.find((x: Loose) => x.name === "v1");
    const service = r.app("Service", "content-generator");
    // An endpoint of the Service (selector and named target port) and a member of the v1 subset.
    for (const [k, v] of Object.entries({ ...service.spec.selector, ...v1.labels }))
      expect(bad.metadata.labels[k], k).toBe(v);
    expect(bad.spec.containers[0].ports.map((p: Loose) => p.name)).toContain(
      service.spec.ports[0].targetPort,
    );
    expect(r.hasApp("ServiceAccount", bad.spec.serviceAccountName)).toBe(true);
    expect(bad.spec.containers[0].env).toContainEqual({ name: "VERSION", value: "v1" });
    // Outlier detection counts it: a 500 is a 5xx.
    const od = dr.spec.trafficPolicy.outlierDetection;
    expect(od.consecutive5xxErrors).toBeGreaterThan(0);
    const pool = r.app("Deployment", "content-generator-v1").spec.replicas + 1;
    expect(maxEjectable(pool, od.maxEjectionPercent)).toBeGreaterThanOrEqual(1);
    // The second experiment's promise: of v2's pods, only this many can be ejected.
    const v2 = r.app("Deployment", "content-generator-v2").spec.replicas;
    expect(maxEjectable(v2, od.maxEjectionPercent)).toBe(1);
    expect(v2).toBe(2);
    expect(text).toContain(
      "`maxEjectionPercent: 50` lets only one of v2's two pods out (`ejections_active: 1`)",
    );
  });

  it("runs Fortio so that its proxy keeps the per-cluster stats the lesson greps", () => {
    const cmds = shellCommands(lesson("14-circuit-breakers"));
    const run = cmds.find((c) => c.startsWith("kubectl -n workshop run fortio"));
    expect(run).toBeDefined();
    // Istio trims Envoy's stats; cluster.outbound... are kept only when asked for.
    expect(run).toContain('"proxyStatsMatcher":{"inclusionPrefixes":["cluster.outbound"]}');
    // The fortio image has no shell and no sleep: it runs its server.
    expect(run).not.toContain("sleep");
    expect(run).toMatch(/ -- server$/);
  });

  it("pauses automated sync, root first, before changing v2 by hand, and resumes it", async () => {
    const r = await rendered("primary", 14);
    const p = syncPause(
      lesson("14-circuit-breakers"),
      r,
      "workshop-app",
      /set env deploy\/content-generator-v2/,
    );
    expect(p.paused).toEqual(p.expected);
    expect(p.expected).toEqual(["primary-root", "primary-workshop-app"]);
    expect(p.changedAfterPause).toBe(true);
    expect(p.resumed).toBe(true);
    expect(lesson("14-circuit-breakers")).not.toMatch(/within minutes/);
  });

  it("rate-limits content-generator locally at 50 requests per second per pod", async () => {
    const r = await rendered("primary", 14);
    const ef = r.mesh("EnvoyFilter", "workshop", "content-generator-local-rate-limit");
    expect(ef.spec.workloadSelector.labels).toEqual({ app: "content-generator" });
    const patch = ef.spec.configPatches[0];
    expect(patch.match.context).toBe("SIDECAR_INBOUND");
    expect(patch.patch.value.name).toBe("envoy.filters.http.local_ratelimit");
    expect(patch.patch.value.typed_config.value.token_bucket).toEqual({
      max_tokens: 50,
      tokens_per_fill: 50,
      fill_interval: "1s",
    });
    // The selector matches the real pods.
    expect(r.app("Deployment", "content-generator-v1").spec.template.metadata.labels.app).toBe(
      "content-generator",
    );
    expect(
      (await rendered("primary", 13)).hasMesh(
        "EnvoyFilter",
        "workshop",
        "content-generator-local-rate-limit",
      ),
    ).toBe(false);
  });
});
