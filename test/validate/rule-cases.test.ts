/**
 * The cases istio/istio's issues describe, that one pass/fail fixture per rule cannot show:
 * a custom cluster domain, short hosts, exportTo and policies in other namespaces.
 */
import { describe, expect, it } from "vitest";
import type { Scope } from "../../scripts/lib/validate/engine.ts";
import path from "node:path";
import { FIXTURES, fileInput, filesUnder, pathScope, run } from "./helpers.ts";

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

describe("Ambient workloads", () => {
  const ns = (name: string, labels: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
  labels: {${labels}}
`;
  const deploy = (name: string, namespace: string, labels = "") => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}${labels ? `, ${labels}` : ""}}}
    spec:
      containers: [{name: app, image: "example/${name}:1", ports: [{containerPort: 8080, name: http}]}]
`;
  const svc = (name: string, namespace: string, labels = "") => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}${labels ? `, labels: {${labels}}` : ""}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 8080}]
`;
  const waypoint = (
    name: string,
    namespace: string,
    labels = "",
    listener = "",
  ) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${namespace}${labels ? `, labels: {${labels}}` : ""}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE${listener ? `, ${listener}` : ""}}]
`;
  // Namespace-wide, and L7 (HTTP methods): it needs a waypoint in Ambient.
  const l7Policy = (namespace: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: ${namespace}}
spec:
  rules: [{to: [{operation: {methods: [GET]}}]}]
`;
  const docs = (...d: string[]) => d.join("---\n");
  const complete = (s: Scope): Scope => ({ ...s, complete: true });

  it("a pod that opts out with istio.io/dataplane-mode: none is not in Ambient, whatever its namespace says", async () => {
    const yaml = docs(
      ns("shop", "istio.io/dataplane-mode: ambient"),
      deploy("cart", "shop"),
      deploy("legacy", "shop", 'istio.io/dataplane-mode: none, sidecar.istio.io/inject: "true"'),
      deploy("batch", "shop", "istio.io/dataplane-mode: none"),
      l7Policy("shop"),
    );
    const noWaypoint = await rulesHit("ambient/authz-without-waypoint", yaml);
    expect(noWaypoint).toHaveLength(1);
    expect(noWaypoint[0]).toContain("Deployment shop/cart");
    // The opted-out pod keeps its sidecar deliberately.
    expect(await rulesHit("ambient/sidecar-and-ambient", yaml)).toEqual([]);
    const injected = docs(
      ns("shop", "istio.io/dataplane-mode: ambient"),
      deploy("legacy", "shop", 'sidecar.istio.io/inject: "true"'),
    );
    expect(await rulesHit("ambient/sidecar-and-ambient", injected)).toHaveLength(1);
  });

  it("a namespace-level waypoint serves a Service's workloads unless the Service opts out", async () => {
    const yaml = docs(
      ns("shop", "istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint"),
      waypoint("waypoint", "shop"),
      svc("cart", "shop"),
      deploy("cart", "shop"),
      svc("orders", "shop", "istio.io/use-waypoint: none"),
      deploy("orders", "shop"),
      l7Policy("shop"),
    );
    const hits = await rulesHit("ambient/authz-without-waypoint", yaml);
    expect(hits).toHaveLength(1);
    expect(hits[0]).toContain("Deployment shop/orders");
    // Opting out is not a reference to a missing waypoint.
    expect(await rulesHit("ambient/waypoint-not-found", yaml, complete)).toEqual([]);
  });

  it("a waypoint in another namespace is looked up there (istio.io/use-waypoint-namespace), and must admit the namespace", async () => {
    const app = (wpNs: string, listener = "allowedRoutes: {namespaces: {from: All}}", nsLabels = "") =>
      docs(
        ns("shop", `istio.io/dataplane-mode: ambient${nsLabels}`),
        waypoint("shared", wpNs, "istio.io/waypoint-for: all", listener),
        deploy(
          "cart",
          "shop",
          "istio.io/use-waypoint: shared, istio.io/use-waypoint-namespace: mesh-waypoints",
        ),
        l7Policy("shop"),
      );
    expect(await rulesHit("ambient/waypoint-not-found", app("mesh-waypoints"))).toEqual([]);
    expect(await rulesHit("ambient/authz-without-waypoint", app("mesh-waypoints"))).toEqual([]);
    const missing = await rulesHit("ambient/waypoint-not-found", app("shop"));
    expect(missing).toHaveLength(1);
    expect(missing[0]).toContain("mesh-waypoints/shared");
    // The waypoint it names does not exist: no waypoint serves it.
    expect(await rulesHit("ambient/authz-without-waypoint", app("shop"))).toHaveLength(1);
    // Its listener admits only its own namespace (the default), or namespaces that carry a label.
    const denied = await rulesHit("ambient/waypoint-not-found", app("mesh-waypoints", ""));
    expect(denied).toHaveLength(1);
    expect(denied[0]).toContain("does not admit namespace shop");
    const selector =
      "allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {waypoints: shared}}}}";
    expect(await rulesHit("ambient/waypoint-not-found", app("mesh-waypoints", selector))).toHaveLength(1);
    expect(
      await rulesHit("ambient/waypoint-not-found", app("mesh-waypoints", selector, ", waypoints: shared")),
    ).toEqual([]);
  });

  it("a pod's own waypoint label needs a waypoint for workload traffic; a namespace's serves its Services", async () => {
    const yaml = (podLabel: string, type: string) =>
      docs(
        ns("shop", "istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint"),
        waypoint("waypoint", "shop", type),
        svc("cart", "shop"),
        deploy("cart", "shop", podLabel),
        l7Policy("shop"),
      );
    const wrong = await rulesHit("ambient/waypoint-not-found", yaml("istio.io/use-waypoint: waypoint", ""));
    expect(wrong).toHaveLength(1);
    expect(wrong[0]).toContain("for service traffic");
    for (const type of ["istio.io/waypoint-for: workload", "istio.io/waypoint-for: all"])
      expect(
        await rulesHit("ambient/waypoint-not-found", yaml("istio.io/use-waypoint: waypoint", type)),
      ).toEqual([]);
    // Inherited from the namespace: the Service's traffic goes through it, nothing is wrong.
    expect(await rulesHit("ambient/waypoint-not-found", yaml("", ""))).toEqual([]);
    expect(await rulesHit("ambient/authz-without-waypoint", yaml("", ""))).toEqual([]);
    // A waypoint for nothing serves nothing.
    expect(
      await rulesHit("ambient/waypoint-not-found", yaml("", "istio.io/waypoint-for: none")),
    ).toHaveLength(1);
    expect(
      await rulesHit("ambient/authz-without-waypoint", yaml("", "istio.io/waypoint-for: none")),
    ).toHaveLength(1);
  });

  it("in path mode a waypoint is called missing only when the files declare waypoints", async () => {
    const yaml = docs(
      ns("shop", "istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint"),
      deploy("cart", "shop"),
    );
    expect(await rulesHit("ambient/waypoint-not-found", yaml)).toEqual([]);
    expect(await rulesHit("ambient/waypoint-not-found", yaml, complete)).toHaveLength(1);
  });

  it("injection by revision label, on the namespace or on the pod, is a sidecar", async () => {
    const nsRev = docs(
      ns("billing", "istio.io/rev: stable"),
      deploy("invoices", "billing", "istio.io/dataplane-mode: ambient"),
    );
    expect(await rulesHit("ambient/sidecar-and-ambient", nsRev)).toHaveLength(1);
    const podRev = docs(
      ns("shop", "istio.io/dataplane-mode: ambient"),
      deploy("cart", "shop", "istio.io/rev: stable"),
    );
    expect(await rulesHit("ambient/sidecar-and-ambient", podRev)).toHaveLength(1);
    // The revision webhook does not match a pod in a namespace with an istio-injection label.
    const disabled = docs(
      ns("shop", "istio-injection: disabled"),
      deploy("cart", "shop", "istio.io/rev: stable, istio.io/dataplane-mode: ambient"),
    );
    expect(await rulesHit("ambient/sidecar-and-ambient", disabled)).toEqual([]);
    // A pod with a sidecar is not captured: its Sidecar resource is effective.
    const sidecar = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: cart, namespace: shop}
spec:
  workloadSelector: {labels: {app: cart}}
  egress: [{hosts: ["./*"]}]
`;
    expect(await rulesHit("ambient/ineffective-sidecar", docs(podRev, sidecar))).toEqual([]);
    const ambientPod = docs(ns("shop", "istio.io/dataplane-mode: ambient"), deploy("cart", "shop"));
    expect(await rulesHit("ambient/ineffective-sidecar", docs(ambientPod, sidecar))).toHaveLength(1);
  });

  it("a namespace the files do not declare may be in Ambient: a waypoint label there is not called a mistake", async () => {
    const alone = deploy("cart", "shop", "istio.io/use-waypoint: waypoint");
    expect(await rulesHit("ambient/waypoint-not-ambient", alone)).toEqual([]);
    expect(
      await rulesHit("ambient/waypoint-not-ambient", docs(ns("shop", "team: shop"), alone)),
    ).toHaveLength(1);
    // The pod's own dataplane-mode decides without the namespace.
    const ownAmbient = deploy("cart", "shop", "istio.io/dataplane-mode: ambient");
    expect(await rulesHit("ambient/authz-without-waypoint", docs(ownAmbient, l7Policy("shop")))).toEqual([]);
    expect(
      await rulesHit(
        "ambient/authz-without-waypoint",
        docs(ns("shop", "team: shop"), ownAmbient, l7Policy("shop")),
      ),
    ).toHaveLength(1);
  });

  it("Bookinfo moved to Ambient: its L7 policies need the waypoint that `istioctl waypoint apply --enroll-namespace` adds", async () => {
    const dir = path.join(FIXTURES, "bookinfo");
    const files = (enrol: boolean) => [
      ...filesUnder(dir)
        .filter((f) => !f.endsWith("namespaces.yaml"))
        .map((f) => fileInput(f)),
      text(
        "namespaces.yaml",
        fileInput(path.join(dir, "namespaces.yaml")).text.replace(
          "istio-injection: enabled",
          `istio.io/dataplane-mode: ambient${enrol ? "\n    istio.io/use-waypoint: waypoint" : ""}`,
        ),
      ),
      ...(enrol
        ? [text("waypoint.yaml", waypoint("waypoint", "bookinfo", "istio.io/waypoint-for: service"))]
        : []),
    ];
    const ambientHits = async (enrol: boolean) =>
      (await run([pathScope(files(enrol))], { rules: ["ambient/*"] })).findings.map(
        (f) => `${f.rule} ${f.message}`,
      );
    const without = await ambientHits(false);
    const rules = (hits: string[]) => [...new Set(hits.map((m) => m.split(" ")[0]))].sort();
    // Bookinfo's namespace-wide Sidecar configures sidecars, which Ambient pods do not run.
    expect(rules(without)).toEqual(["ambient/authz-without-waypoint", "ambient/ineffective-sidecar"]);
    expect(without.join("\n")).toContain("AuthorizationPolicy bookinfo/productpage-viewer (HTTP methods)");
    expect(without.filter((m) => m.startsWith("ambient/authz-without-waypoint "))).toHaveLength(4);
    expect(rules(await ambientHits(true))).toEqual(["ambient/ineffective-sidecar"]);
  });

  it("the Ambient rules are silent on a sidecar mesh, except for a waypoint label, which is the mistake there", async () => {
    const sidecarMesh = docs(
      ns("shop", "istio-injection: enabled"),
      svc("cart", "shop", "istio.io/use-waypoint: waypoint"),
      deploy("cart", "shop", "istio.io/use-waypoint: waypoint"),
      l7Policy("shop"),
      `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  egress: [{hosts: ["./*"]}]
`,
    );
    for (const rule of [
      "ambient/sidecar-and-ambient",
      "ambient/waypoint-not-found",
      "ambient/authz-without-waypoint",
      "ambient/ineffective-sidecar",
    ])
      expect(await rulesHit(rule, sidecarMesh, complete), rule).toEqual([]);
    expect(await rulesHit("ambient/waypoint-not-ambient", sidecarMesh)).toHaveLength(1);
  });
});
