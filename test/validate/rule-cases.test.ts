/**
 * The cases istio/istio's issues describe, that one pass/fail fixture per rule cannot show:
 * a custom cluster domain, short hosts, exportTo and policies in other namespaces.
 */
import { describe, expect, it } from "vitest";
import type { Scope } from "../../scripts/lib/validate/engine.ts";
import { pathScope, run } from "./helpers.ts";

const text = (file: string, body: string) => ({ file, text: body, kind: "manifests" as const });

async function rulesHit(
  rule: string,
  yaml: string,
  change: (s: Scope) => Scope = (s) => s,
): Promise<string[]> {
  const r = await run([change(pathScope([text("case.yaml", yaml)]))], { rules: [rule] });
  return r.findings.filter((f) => f.rule === rule).map((f) => f.message);
}

const corp = (s: Scope): Scope => ({ ...s, platform: { ...s.platform, clusterDomain: "corp.internal" } });

const API = `apiVersion: v1
kind: Service
metadata: {name: api, namespace: demo}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: demo}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: app, image: "example/app:1", ports: [{containerPort: 8080, name: http}]}]
`;

describe("custom cluster domain", () => {
  const vs = (host: string, port: number) => `${API}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: demo}
spec:
  hosts: [api]
  http:
    - route: [{destination: {host: ${host}, port: {number: ${port}}}}]
`;
  it("vs/destination-port-not-found resolves short and full names in the configured domain", async () => {
    expect(await rulesHit("vs/destination-port-not-found", vs("api", 8080), corp)).toHaveLength(1);
    expect(
      await rulesHit("vs/destination-port-not-found", vs("api.demo.svc.corp.internal", 8080), corp),
    ).toHaveLength(1);
    expect(
      await rulesHit("vs/destination-port-not-found", vs("api.demo.svc.corp.internal", 80), corp),
    ).toEqual([]);
  });

  it("authz/host-not-found checks in-cluster names of the configured domain only", async () => {
    const ap = (host: string) => `${API}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: demo}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{to: [{operation: {hosts: ["${host}"]}}]}]
`;
    expect(await rulesHit("authz/host-not-found", ap("api.demo.svc.corp.internal"), corp)).toEqual([]);
    expect(await rulesHit("authz/host-not-found", ap("apis.demo.svc.corp.internal"), corp)).toHaveLength(1);
    expect(await rulesHit("authz/host-not-found", ap("apis"), corp)).toHaveLength(1);
    // An external Host header (a gateway's public name) is not a registry host.
    expect(await rulesHit("authz/host-not-found", ap("shop.example.com"), corp)).toEqual([]);
  });
});

describe("short hosts", () => {
  it("vs/repeated-destination sees `api` and its FQDN as one destination", async () => {
    const yaml = `${API}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: demo}
spec:
  hosts: [api]
  http:
    - route:
        - {destination: {host: api}, weight: 50}
        - {destination: {host: api.demo.svc.cluster.local}, weight: 50}
`;
    expect(await rulesHit("vs/repeated-destination", yaml)).toHaveLength(1);
  });
});

describe("gateways in other namespaces and exportTo", () => {
  const gateway = (exportTo: string) => `${API.replace(
    "metadata: {name: api, namespace: demo}\nspec:\n  selector: {app: api}",
    `metadata: {name: api, namespace: demo, annotations: {networking.istio.io/exportTo: "${exportTo}"}}\nspec:\n  selector: {app: api}`,
  )}---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress, namespace: istio-ingress}
spec:
  selector: {matchLabels: {istio: ingress}}
  template:
    metadata: {labels: {istio: ingress, sidecar.istio.io/inject: "true"}}
    spec:
      containers: [{name: istio-proxy, image: auto}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: demo}
spec:
  selector: {istio: ingress}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [shop.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: demo}
spec:
  hosts: [shop.example.com]
  gateways: [web]
  http: [{route: [{destination: {host: api, port: {number: 80}}}]}]
`;
  it("a Gateway in the app's namespace is served by pods elsewhere: the destination must be exported there", async () => {
    const hits = await rulesHit("vs/destination-hidden-from-gateway", gateway("."));
    expect(hits).toHaveLength(1);
    expect(hits[0]).toContain("istio-ingress");
    expect(await rulesHit("vs/destination-hidden-from-gateway", gateway(".,istio-ingress"))).toEqual([]);
    expect(await rulesHit("vs/destination-hidden-from-gateway", gateway("*"))).toEqual([]);
  });

  it("ServiceEntries exported to disjoint namespaces do not conflict", async () => {
    const se = (name: string, ns: string, proto: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  exportTo: ["."]
  hosts: [api.example.com]
  resolution: DNS
  ports: [{number: 443, name: x, protocol: ${proto}}]
`;
    expect(
      await rulesHit("se/conflicting-protocol", `${se("a", "one", "TLS")}---\n${se("b", "two", "HTTPS")}`),
    ).toEqual([]);
    expect(
      await rulesHit("se/conflicting-protocol", `${se("a", "one", "TLS")}---\n${se("b", "one", "HTTPS")}`),
    ).toHaveLength(2);
  });
});

describe("policies in the root namespace", () => {
  const policy = (raNs: string) => `${API}---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: ${raNs}}
spec:
  jwtRules: [{issuer: "https://auth.example.com", jwksUri: "https://auth.example.com/jwks.json"}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: demo}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules: [{from: [{source: {notRequestPrincipals: ["*"]}}], to: [{operation: {ports: ["8080"]}}]}]
`;
  it("a selector-less RequestAuthentication in istio-system covers every namespace; one in another namespace does not", async () => {
    expect(await rulesHit("authz/request-auth-missing", policy("istio-system"))).toEqual([]);
    expect(await rulesHit("authz/request-auth-missing", policy("demo"))).toEqual([]);
    expect(await rulesHit("authz/request-auth-missing", policy("other"))).toHaveLength(1);
  });
});

describe("gateways modelled from a Helm release", () => {
  it("gw/port-not-on-service says nothing about gateway pods whose Service it cannot see", async () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: istio-ingress}
spec:
  selector: {istio: ingress}
  servers: [{port: {number: 8443, name: https, protocol: HTTPS}, hosts: [shop.example.com], tls: {mode: SIMPLE, credentialName: shop}}]
`;
    const modelled = (s: Scope): Scope => ({
      ...s,
      platform: {
        ...s.platform,
        gateways: [
          { namespace: "istio-ingress", labels: { istio: "ingress" }, origin: "release istio-ingress" },
        ],
      },
    });
    expect(await rulesHit("gw/port-not-on-service", yaml, modelled)).toEqual([]);
  });
});

describe("injection webhooks of two revisions", () => {
  const hook = (name: string, rev: string | undefined) => `apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: ${name}${rev ? `, labels: {istio.io/rev: ${rev}}` : ""}}
webhooks:
  - name: namespace.sidecar-injector.istio.io
    clientConfig: {service: {name: istiod, namespace: istio-system, path: /inject, port: 443}}
    namespaceSelector: {matchLabels: {${rev ? `istio.io/rev: ${rev}` : "istio-injection: enabled"}}}
    sideEffects: None
    admissionReviewVersions: [v1]
`;
  it("reports webhooks that both match one namespace, not webhooks of distinct revisions", async () => {
    const overlap = `${hook("istio-sidecar-injector", undefined)}---
${hook("istio-sidecar-injector-copy", undefined)}`;
    expect(await rulesHit("istio/injection-webhook", overlap)).toHaveLength(2);
    const distinct = `${hook("istio-sidecar-injector-1-29", "1-29")}---
${hook("istio-sidecar-injector-1-30", "1-30")}`;
    expect(await rulesHit("istio/injection-webhook", distinct)).toEqual([]);
  });
});

describe("gateway routes and the subsets of a host's own VirtualService (IST0140)", () => {
  const mesh = (ns: string, host: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: ${ns}}
spec:
  hosts: [${host}]
  http:
    - route: [{destination: {host: ${host}, subset: v1}}]
`;
  const ingress = (ns: string, host: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ingress, namespace: ${ns}}
spec:
  hosts: [shop.example.com]
  gateways: [istio-ingress/public]
  http:
    - route: [{destination: {host: ${host}}}]
`;
  const rule = "vs/gateway-route-skips-subsets";
  it("a short host and its FQDN are one host; two short hosts of two namespaces are two", async () => {
    expect(await rulesHit(rule, `${mesh("demo", "reviews")}---\n${ingress("demo", "reviews")}`)).toHaveLength(
      1,
    );
    expect(
      await rulesHit(
        rule,
        `${mesh("demo", "reviews")}---\n${ingress("web", "reviews.demo.svc.cluster.local")}`,
      ),
    ).toHaveLength(1);
    // istioctl compares the strings and would report this one: `reviews` of web is another Service.
    expect(await rulesHit(rule, `${mesh("demo", "reviews")}---\n${ingress("web", "reviews")}`)).toEqual([]);
  });
  it("expands short names in a custom cluster domain", async () => {
    const yaml = `${mesh("demo", "reviews")}---\n${ingress("web", "reviews.demo.svc.corp.internal")}`;
    expect(await rulesHit(rule, yaml, corp)).toHaveLength(1);
    expect(await rulesHit(rule, yaml)).toEqual([]);
  });
  it("a VirtualService bound only to `mesh` is not a gateway route", async () => {
    const meshOnly = ingress("demo", "reviews").replace("[istio-ingress/public]", "[mesh]");
    expect(await rulesHit(rule, `${mesh("demo", "reviews")}---\n${meshOnly}`)).toEqual([]);
  });
});

describe("mesh-wide ISTIO_MUTUAL DestinationRules and exportTo (KIA0204)", () => {
  const wide = (host: string, exportTo = "'*'") => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mtls, namespace: istio-system}
spec:
  host: "${host}"
  exportTo: [${exportTo}]
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: demo}
spec:
  host: reviews
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 10}}}
`;
  const rule = "dr/mesh-mtls-overridden";
  it("a wide rule the specific one's namespace cannot see is not overridden there", async () => {
    expect(await rulesHit(rule, wide("*.local"))).toHaveLength(1);
    expect(await rulesHit(rule, wide("*.local", "'.'"))).toEqual([]);
    expect(await rulesHit(rule, wide("*.local", "demo"))).toHaveLength(1);
  });
  it("namespace-wide hosts in the configured cluster domain, not another namespace's", async () => {
    expect(await rulesHit(rule, wide("*.demo.svc.corp.internal"), corp)).toHaveLength(1);
    expect(await rulesHit(rule, wide("*.other.svc.corp.internal"), corp)).toEqual([]);
    expect(await rulesHit(rule, wide("*"))).toHaveLength(1);
  });
});

describe("meshNetworks registries in repo mode (IST0126)", () => {
  const cm = (registry: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  meshNetworks: |-
    networks:
      network2:
        endpoints: [{fromRegistry: ${registry}}]
        gateways: [{address: 192.0.2.10, port: 15443}]
`;
  const rule = "istio/mesh-networks-registry";
  const inMesh = (s: Scope): Scope => ({
    ...s,
    repo: {
      pathExists: () => true,
      clusterNames: new Set(),
      clusterServers: new Set(),
      repoURLs: new Set(),
      meshClusterIDs: new Set(["primary", "remote"]),
    },
  });
  it("a cluster of the same mesh is a registry once its remote secret exists; without repo facts it is not", async () => {
    expect(await rulesHit(rule, cm("remote"), inMesh)).toEqual([]);
    expect(await rulesHit(rule, cm("remote"))).toHaveLength(1);
    expect(await rulesHit(rule, cm("Kubernetes"))).toEqual([]);
    expect(await rulesHit(rule, cm("remote-2"), inMesh)).toHaveLength(1);
  });
});
