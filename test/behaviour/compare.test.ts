import { describe, expect, it } from "vitest";
import {
  compareResult,
  durationMs,
  formatTrace,
  subsetOfCluster,
} from "../../scripts/lib/behaviour/compare.ts";
import type { SimHop, SimResult } from "../../scripts/lib/behaviour/protocol.ts";
import type { ExpectRequest, ExpectThen } from "../../scripts/lib/model/types.ts";

const CG = (subset: string) => `outbound|80|${subset}|content-generator.workshop.svc.cluster.local`;
const pos = { file: "chapters/09-x/chapter.yaml", line: 3, column: 5 };

function req(then: ExpectThen): ExpectRequest {
  return {
    name: "r",
    lesson: "a sentence",
    from: { kind: "workload", namespace: "workshop", name: "frontend-portal-v1" },
    request: { url: "http://content-generator/generate-bs" },
    then,
    file: pos.file,
    chapter: "09-x",
    position: pos,
    thenPositions: {},
  };
}

function result(
  hop: Partial<SimHop>,
  outcome: Partial<SimResult["outcome"]> = {},
  rest: Partial<SimResult> = {},
): SimResult {
  return {
    id: "r",
    hops: [
      { proxy: "workshop/frontend-portal-v1", direction: "outbound", ...hop },
      { proxy: "workshop/content-generator-v1", direction: "inbound", rbac: { allowed: true } },
    ],
    outcome: { kind: "delivered", destination: "workshop/content-generator-v1", ...outcome },
    ...rest,
  };
}

const fields = (then: ExpectThen, r: SimResult) => compareResult(req(then), r).map((m) => m.field);

describe("durations and cluster names", () => {
  it("normalises Envoy and Istio durations", () => {
    expect(durationMs("2.5s")).toBe(2500);
    expect(durationMs("2500ms")).toBe(2500);
    expect(durationMs("0.600s")).toBe(600);
    expect(durationMs("none")).toBe(0);
    expect(durationMs("1m")).toBe(60_000);
    expect(Number.isNaN(durationMs("soon"))).toBe(true);
  });
  it("reads the subset of an Istio cluster name", () => {
    expect(subsetOfCluster(CG("v2"))).toBe("v2");
    expect(subsetOfCluster("outbound|80||httpbin.org")).toBe("-");
    expect(subsetOfCluster("PassthroughCluster")).toBeUndefined();
  });
});

describe("compareResult", () => {
  it("route, subset and weights", () => {
    const split = result({
      route: "default",
      cluster: CG("v1"),
      weightedClusters: [
        { cluster: CG("v1"), weight: 90 },
        { cluster: CG("v2"), weight: 10 },
      ],
    });
    expect(fields({ route: "default", weights: { v1: 90, v2: 10 } }, split)).toEqual([]);
    expect(fields({ route: "admins-canary" }, split)).toEqual(["route"]);
    expect(fields({ weights: { v1: 50, v2: 50 } }, split)).toEqual(["weights"]);
    // A split is not "subset v1", even though the helper followed v1.
    expect(compareResult(req({ subset: "v1" }), split)[0]!.message).toContain("splits over v1: 90, v2: 10");
    const single = result({ route: "admins-canary", cluster: CG("v2"), subset: "v2" });
    expect(fields({ subset: "v2", weights: { v2: 100 } }, single)).toEqual([]);
    expect(fields({ subset: "v1" }, single)).toEqual(["subset"]);
  });

  it("fault, mirror, timeout, retries, hash policy, endpoints, upstream TLS", () => {
    const hop: Partial<SimHop> = {
      route: "users-faults",
      cluster: CG("v1"),
      endpoints: 3,
      fault: { delay: { fixedDelay: "2.500s", percent: 100 }, abort: { httpStatus: 503, percent: 10 } },
      mirrors: [{ cluster: CG("v3"), percent: 25 }],
      timeout: "2s",
      retries: { attempts: 2, perTryTimeout: "0.6s", retryOn: "connect-failure,5xx,reset,refused-stream" },
      hashPolicy: [{ header: "x-workshop-user" }],
      upstreamTls: "ISTIO_MUTUAL",
    };
    const good: ExpectThen = {
      endpoints: 3,
      fault: { delay: { fixedDelay: "2500ms", percent: 100 }, abort: { status: 503, percent: 10 } },
      mirror: { subset: "v3", percent: 25 },
      timeout: "2s",
      retries: { attempts: 2, perTryTimeout: "600ms", retryOn: "5xx,connect-failure,refused-stream,reset" },
      hashPolicy: { header: "x-workshop-user" },
      upstreamTls: "ISTIO_MUTUAL",
    };
    expect(fields(good, result(hop))).toEqual([]);
    expect(
      fields(
        {
          endpoints: 2,
          fault: { abort: { status: 500, percent: 10 } },
          mirror: { subset: "v3", percent: 50 },
          timeout: "3s",
          retries: { attempts: 3 },
          hashPolicy: { cookie: "portal-affinity" },
          upstreamTls: "DISABLE",
        },
        result(hop),
      ),
    ).toEqual(["endpoints", "fault", "mirror", "timeout", "retries", "hashPolicy", "upstreamTls"]);
    // `false` / `none`: nothing of the kind.
    const bare = result({ route: "default", cluster: CG("v1"), timeout: "0s" });
    expect(
      fields({ fault: false, mirror: false, retries: false, hashPolicy: false, timeout: "none" }, bare),
    ).toEqual([]);
    expect(
      fields(
        { fault: false, mirror: false, retries: false, hashPolicy: false, timeout: "none" },
        result(hop),
      ),
    ).toEqual(["fault", "mirror", "timeout", "retries", "hashPolicy"]);
  });

  it("outcome, status, allowed and destination", () => {
    const denied: SimResult = {
      id: "r",
      hops: [
        { proxy: "workshop/curl", direction: "outbound", route: "helpers-by-path", cluster: CG("v1") },
        {
          proxy: "workshop/content-generator-v1",
          direction: "inbound",
          rbac: { allowed: false, status: 403, policy: "ns[workshop]-policy[content-generator]-rule[0]" },
        },
      ],
      outcome: { kind: "denied", status: 403 },
    };
    expect(
      fields({ outcome: "denied", status: 403, allowed: false, route: "helpers-by-path" }, denied),
    ).toEqual([]);
    const m = compareResult(req({ outcome: "delivered", allowed: true, status: 200 }), denied);
    expect(m.map((x) => x.field)).toEqual(["outcome", "status", "allowed"]);
    expect(m[2]!.message).toContain("by RBAC at workshop/content-generator-v1");
    expect(fields({ destination: "workshop/content-generator-v2" }, result({}))).toEqual(["destination"]);
  });

  it("egress: which gateway, TLS origination; `at` reads another proxy's hop", () => {
    const egress: SimResult = {
      id: "r",
      hops: [
        {
          proxy: "workshop/content-generator-v1",
          direction: "outbound",
          route: "sidecar-to-egress-gateway",
          cluster: "outbound|80|external-api|istio-egress.istio-egress.svc.cluster.local",
          upstreamTls: "ISTIO_MUTUAL",
        },
        {
          proxy: "istio-egress/istio-egress",
          direction: "outbound",
          route: "egress-gateway-to-external-api",
          cluster: "outbound|443||httpbin.org",
          upstreamTls: "SIMPLE",
        },
      ],
      outcome: { kind: "delivered", destination: "httpbin.org" },
      egress: { gateway: "istio-egress/istio-egress", host: "httpbin.org", tlsOriginated: true },
    };
    expect(
      fields(
        {
          egress: { gateway: "istio-egress/istio-egress", tlsOrigination: true },
          route: "sidecar-to-egress-gateway",
        },
        egress,
      ),
    ).toEqual([]);
    expect(
      fields(
        { at: "istio-egress/istio-egress", route: "egress-gateway-to-external-api", upstreamTls: "SIMPLE" },
        egress,
      ),
    ).toEqual([]);
    expect(fields({ at: "istio-egress/istio-egress", upstreamTls: "ISTIO_MUTUAL" }, egress)).toEqual([
      "upstreamTls",
    ]);
    expect(fields({ at: "istio-system/nowhere", route: "x" }, egress)).toEqual(["route"]);
    const direct = { ...egress, egress: undefined, hops: egress.hops.slice(0, 1) };
    expect(fields({ egress: { gateway: "istio-egress/istio-egress" } }, direct)).toEqual(["egress"]);
    expect(fields({ egress: { tlsOrigination: false } }, egress)).toEqual(["egress"]);
  });

  it("the trace names every hop's listener, route, cluster and endpoints", () => {
    const t = formatTrace(
      result({
        listener: "0.0.0.0_80",
        routeConfig: "80",
        virtualHost: "content-generator.workshop.svc.cluster.local:80",
        route: "default",
        cluster: CG("v1"),
        endpoints: 3,
      }),
    );
    expect(t).toContain("1. workshop/frontend-portal-v1 outbound, listener 0.0.0.0_80");
    expect(t).toContain(`route 'default', cluster ${CG("v1")}, 3 endpoint(s)`);
    expect(t).toContain("2. workshop/content-generator-v1 inbound, rbac allowed");
    expect(t.split("\n").at(-1)).toBe("=> delivered at workshop/content-generator-v1");
  });
});
