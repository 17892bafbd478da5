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

describe("Gateway API Gateways: istiod's internal Gateways and the pods it deploys", () => {
  const gw = (
    name: string,
    ns: string,
    extra = "",
    cls = "istio",
  ) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}${extra ? `, ${extra}` : ""}}
spec:
  gatewayClassName: ${cls}
  listeners: [{name: http, port: 80, protocol: HTTP, hostname: shop.example.com}]
`;
  const vs = (ns: string, gateway: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: ${ns}}
spec:
  hosts: [shop.example.com]
  gateways: ["${gateway}"]
  http: [{route: [{destination: {host: shop.demo.svc.cluster.local}}]}]
`;
  it("vs/internal-gateway: an internal name in any form, from any namespace; vs/gateway-not-found leaves it alone", async () => {
    for (const ref of [
      "istio-ingress/web~istio-autogenerated-k8s-gateway~http",
      "web~istio-autogenerated-k8s-gateway~http",
      "web~istio-autogenerated-k8s-gateway~http.istio-ingress.svc.cluster.local",
    ]) {
      const yaml = `${gw("web", "istio-ingress")}---\n${vs("demo", ref)}`;
      expect(await rulesHit("vs/internal-gateway", yaml), ref).toHaveLength(1);
      expect(await rulesHit("vs/gateway-not-found", yaml), ref).toEqual([]);
    }
    expect(await rulesHit("vs/internal-gateway", vs("demo", "istio-ingress/web-autogenerated"))).toEqual([]);
  });

  it("vs/gateway-not-found: a VirtualService cannot bind to a Gateway API Gateway by its name", async () => {
    const hits = await rulesHit(
      "vs/gateway-not-found",
      `${gw("web", "istio-ingress")}---\n${vs("demo", "istio-ingress/web")}`,
    );
    expect(hits).toHaveLength(1);
    expect(hits[0]).toContain("Gateway API Gateway");
  });

  const policy = (ns: string, labels: string, extra = "") => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: ${ns}}
spec:
  selector: {matchLabels: {${labels}}}
${extra}  rules: [{to: [{operation: {paths: ["/"]}}]}]
`;
  const ineffective = (yaml: string) => rulesHit("policy/ineffective-selector", yaml);

  it("policy/ineffective-selector: only pods in the policy's own namespace, the root namespace included", async () => {
    const sel = "gateway.networking.k8s.io/gateway-name: web";
    expect(
      await ineffective(`${gw("web", "istio-ingress")}---\n${policy("istio-ingress", sel)}`),
    ).toHaveLength(1);
    // As istioctl: a policy in another namespace, even the root one, is not compared with these pods.
    expect(await ineffective(`${gw("web", "istio-ingress")}---\n${policy("demo", sel)}`)).toEqual([]);
    expect(await ineffective(`${gw("web", "istio-ingress")}---\n${policy("istio-system", sel)}`)).toEqual([]);
    expect(await ineffective(`${gw("web", "istio-system")}---\n${policy("istio-system", sel)}`)).toHaveLength(
      1,
    );
    // targetRefs is the way: no finding, whatever else the policy says.
    const byRef = policy("istio-ingress", sel).replace(
      "  selector: {matchLabels: {gateway.networking.k8s.io/gateway-name: web}}\n",
      "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: web}]\n",
    );
    expect(await ineffective(`${gw("web", "istio-ingress")}---\n${byRef}`)).toEqual([]);
  });

  it("policy/ineffective-selector: the pods follow the class, addresses, name override and infrastructure labels", async () => {
    const sel = (k: string, v: string) => policy("edge", `${k}: ${v}`);
    // No pods for another vendor's class, or for a Gateway bound to an existing deployment.
    expect(
      await ineffective(
        `${gw("web", "edge", "", "other")}---\n${sel("gateway.networking.k8s.io/gateway-name", "web")}`,
      ),
    ).toEqual([]);
    const manual = gw("web", "edge").replace(
      "  listeners:",
      "  addresses: [{type: Hostname, value: ingress.istio-system.svc.cluster.local}]\n  listeners:",
    );
    expect(
      await ineffective(`${manual}---\n${sel("gateway.networking.k8s.io/gateway-name", "web")}`),
    ).toEqual([]);
    // A GatewayClass of Istio's controller under another name, and waypoints (no -<class> suffix).
    const cls = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: internal}
spec: {controllerName: istio.io/gateway-controller}
`;
    expect(
      await ineffective(
        `${cls}---\n${gw("web", "edge", "", "internal")}---\n${sel("service.istio.io/canonical-name", "web-internal")}`,
      ),
    ).toHaveLength(1);
    expect(
      await ineffective(
        `${gw("waypoint", "edge", "", "istio-waypoint")}---\n${sel("service.istio.io/canonical-name", "waypoint")}`,
      ),
    ).toHaveLength(1);
    const renamed = gw("web", "edge", "annotations: {gateway.istio.io/name-override: front}");
    expect(
      await ineffective(`${renamed}---\n${sel("service.istio.io/canonical-name", "front")}`),
    ).toHaveLength(1);
    expect(
      await ineffective(`${renamed}---\n${sel("service.istio.io/canonical-name", "web-istio")}`),
    ).toEqual([]);
    // The Gateway's labels reach the pods, unless spec.infrastructure.labels replaces them.
    const labelled = gw("web", "edge", "labels: {team: shop}");
    expect(await ineffective(`${labelled}---\n${sel("team", "shop")}`)).toHaveLength(1);
    const infra = labelled.replace("  listeners:", "  infrastructure: {labels: {tier: edge}}\n  listeners:");
    expect(await ineffective(`${infra}---\n${sel("team", "shop")}`)).toEqual([]);
    expect(await ineffective(`${infra}---\n${sel("tier", "edge")}`)).toHaveLength(1);
  });

  it("the modelled pods' service account exists for authz/principal-not-found; they do not make path mode conclude 'no workload'", async () => {
    const sa = `apiVersion: v1
kind: ServiceAccount
metadata: {name: shop, namespace: demo}
`;
    const ap = (principal: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: from-gateway, namespace: demo}
spec:
  rules: [{from: [{source: {principals: ["${principal}"]}}]}]
`;
    const base = `${gw("web", "istio-ingress")}---\n${sa}---\n`;
    expect(
      await rulesHit(
        "authz/principal-not-found",
        `${base}${ap("cluster.local/ns/istio-ingress/sa/web-istio")}`,
      ),
    ).toEqual([]);
    expect(
      await rulesHit("authz/principal-not-found", `${base}${ap("cluster.local/ns/istio-ingress/sa/web")}`),
    ).toHaveLength(1);
    const svc = `apiVersion: v1
kind: Service
metadata: {name: shop, namespace: demo}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 8080}]
`;
    expect(await rulesHit("svc/selector-no-workload", `${gw("web", "istio-ingress")}---\n${svc}`)).toEqual(
      [],
    );
  });

  it("gwapi/duplicate-listener and gwapi/duplicate-address compare Gateways across namespaces, of the same name too", async () => {
    const two = `${gw("web", "one")}---\n${gw("web", "two")}`;
    expect(await rulesHit("gwapi/duplicate-listener", two)).toHaveLength(2);
    const other = `${gw("web", "one")}---\n${gw("web", "two").replace("shop.example.com", "admin.example.com")}`;
    expect(await rulesHit("gwapi/duplicate-listener", other)).toEqual([]);
    const addr = (name: string, a: string) =>
      gw(name, "one").replace("  listeners:", `  addresses: [${a}]\n  listeners:`);
    // The API server defaults the address type to IPAddress.
    expect(
      await rulesHit(
        "gwapi/duplicate-address",
        `${addr("a", "{value: 192.0.2.1}")}---\n${addr("b", "{type: IPAddress, value: 192.0.2.1}")}`,
      ),
    ).toHaveLength(2);
  });

  it("gwapi/crd-below-minimum: short versions compare as Istio's semver does; no or unreadable annotations say nothing", async () => {
    const crd = (version: string | undefined) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tlsroutes.gateway.networking.k8s.io
${version === undefined ? "" : `  annotations: {gateway.networking.k8s.io/bundle-version: "${version}"}\n`}spec:
  group: gateway.networking.k8s.io
  names: {kind: TLSRoute, plural: tlsroutes}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`;
    expect(await rulesHit("gwapi/crd-below-minimum", crd("v1.4"))).toHaveLength(1);
    expect(await rulesHit("gwapi/crd-below-minimum", crd("1.10.0"))).toEqual([]);
    expect(await rulesHit("gwapi/crd-below-minimum", crd("v1.5.0-dev"))).toEqual([]);
    expect(await rulesHit("gwapi/crd-below-minimum", crd("latest"))).toEqual([]);
    expect(await rulesHit("gwapi/crd-below-minimum", crd(undefined))).toEqual([]);
  });
});

const AMBIENT_POLICY_RULES = [
  "ambient/selector-policy",
  "ambient/policy-without-waypoint",
  "ambient/route-not-captured",
  "ambient/route-other-namespace",
];
const AMBIENT_WORKLOAD_RULES = [
  "ambient/sidecar-and-ambient",
  "ambient/waypoint-not-ambient",
  "ambient/waypoint-not-found",
  "ambient/authz-without-waypoint",
  "ambient/ineffective-sidecar",
];

describe("Ambient mode: hosts, namespaces and opt-outs", () => {
  /** Findings of all four Ambient rules: `rule: message`. */
  const ambient = async (yaml: string, change: (s: Scope) => Scope = (s) => s) => {
    // The policy rules only: the workload rules (KIA13xx) have their own cases below.
    const r = await run([change(pathScope([text("case.yaml", yaml)]))], { rules: AMBIENT_POLICY_RULES });
    return r.findings.map((f) => `${f.rule} ${f.anchors.join(",")}: ${f.message}`);
  };
  const ns = (name: string, labels: string) => `apiVersion: v1
kind: Namespace
metadata: {name: ${name}, labels: {${labels}}}
`;
  const reviews = (labels = "") => `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo${labels ? `, labels: {${labels}}` : ""}}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
`;
  const vs = (vsNs: string, ...hosts: string[]) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: ${vsNs}}
spec:
  hosts: [${hosts.join(", ")}]
  http: [{timeout: 2s, route: [{destination: {host: ${hosts[0]}}}]}]
`;
  const enrolled = "istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint";
  const docs = (...d: string[]) => d.join("---\n");

  it("a VirtualService in another namespace than its Ambient Service: the FQDN resolves, the short name does not", async () => {
    const base = [ns("bookinfo", enrolled), ns("test", "team: qa"), reviews()];
    const fqdn = await ambient(docs(...base, vs("test", "reviews.bookinfo.svc.cluster.local")));
    expect(fqdn).toHaveLength(1);
    expect(fqdn[0]).toMatch(/^ambient\/route-other-namespace KIA1114: .*from namespace test/);
    // `reviews` in namespace test is test's Service (none here), and `reviews.bookinfo` is no Istio host.
    expect(await ambient(docs(...base, vs("test", "reviews")))).toEqual([]);
    expect(await ambient(docs(...base, vs("test", "reviews.bookinfo")))).toEqual([]);
    expect(await ambient(docs(...base, vs("bookinfo", "reviews")))).toEqual([]);
  });

  it("short and full names of one Service opting out with `istio.io/use-waypoint: none` are one finding", async () => {
    const optedOut = [ns("bookinfo", enrolled), reviews("istio.io/use-waypoint: none")];
    const short = await ambient(docs(...optedOut, vs("bookinfo", "reviews")));
    expect(short).toHaveLength(1);
    expect(short[0]).toMatch(/^ambient\/route-not-captured KIA1113: .*Service bookinfo\/reviews/);
    const both = await ambient(
      docs(...optedOut, vs("bookinfo", "reviews", "reviews.bookinfo.svc.cluster.local")),
    );
    expect(both).toHaveLength(1);
    // The namespace's enrolment covers a Service without a label of its own.
    expect(await ambient(docs(ns("bookinfo", enrolled), reviews(), vs("bookinfo", "reviews")))).toEqual([]);
  });

  it("a custom cluster domain: only names in the configured domain are the Service", async () => {
    const optedOut = [ns("bookinfo", enrolled), reviews("istio.io/use-waypoint: none")];
    expect(
      await ambient(docs(...optedOut, vs("bookinfo", "reviews.bookinfo.svc.corp.internal")), corp),
    ).toHaveLength(1);
    expect(await ambient(docs(...optedOut, vs("bookinfo", "reviews")), corp)).toHaveLength(1);
    // In corp.internal, `*.svc.cluster.local` is an external name: the enrolled namespace accounts for it.
    expect(
      await ambient(docs(...optedOut, vs("bookinfo", "reviews.bookinfo.svc.cluster.local")), corp),
    ).toEqual([]);
  });

  const policyWorkload = (podLabels: string) => `${ns("bookinfo", "istio.io/dataplane-mode: ambient")}---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: reviews}}
  template:
    metadata: {labels: {app: reviews${podLabels}}}
    spec:
      containers: [{name: app, image: "example/reviews:1"}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: reviews}}
  rules: [{to: [{operation: {methods: [GET]}}]}]
`;
  it("a pod that opts out with `istio.io/dataplane-mode: none` (or runs a sidecar) applies selector policies itself", async () => {
    const captured = await ambient(policyWorkload(""));
    expect(captured.map((m) => m.split(":")[0]).sort()).toEqual([
      "ambient/policy-without-waypoint KIA0109",
      "ambient/selector-policy KIA0110",
    ]);
    expect(await ambient(policyWorkload(", istio.io/dataplane-mode: none"))).toEqual([]);
    expect(await ambient(policyWorkload(', sidecar.istio.io/inject: "true"'))).toEqual([]);
    // A pod enrolled with a waypoint: the waypoint still ignores the selector policy.
    const podEnrolled = await ambient(policyWorkload(", istio.io/use-waypoint: waypoint"));
    expect(podEnrolled.map((m) => m.split(":")[0])).toEqual(["ambient/selector-policy KIA0110"]);
  });

  const targeted = (nsLabels: string, svcLabels: string) =>
    docs(
      ns("bookinfo", nsLabels),
      reviews(svcLabels),
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: bookinfo}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
`,
    );
  it("targetRefs to a Service: enrolled by its own label or its namespace's, and `none` wins over the namespace", async () => {
    const ambientOnly = "istio.io/dataplane-mode: ambient";
    expect(await ambient(targeted(ambientOnly, "istio.io/use-waypoint: waypoint"))).toEqual([]);
    expect(await ambient(targeted(enrolled, ""))).toEqual([]);
    const notEnrolled = await ambient(targeted(ambientOnly, ""));
    expect(notEnrolled).toHaveLength(1);
    expect(notEnrolled[0]).toMatch(
      /^ambient\/policy-without-waypoint KIA0109: .*targets Service bookinfo\/reviews/,
    );
    expect(await ambient(targeted(enrolled, "istio.io/use-waypoint: none"))).toHaveLength(1);
  });

  it("a sidecar mesh (nothing in Ambient) gets no Ambient finding, whatever its policies", async () => {
    expect(
      await ambient(
        policyWorkload("").replace("istio.io/dataplane-mode: ambient", "istio-injection: enabled"),
      ),
    ).toEqual([]);
    expect(
      await ambient(
        docs(
          ns("bookinfo", "istio-injection: enabled"),
          ns("test", "team: qa"),
          reviews(),
          vs("test", "reviews.bookinfo.svc.cluster.local"),
        ),
      ),
    ).toEqual([]);
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
      (await run([pathScope(files(enrol))], { rules: AMBIENT_WORKLOAD_RULES })).findings.map(
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

describe("authz/jwks-fetch-unrestricted: who fetches the JWKS", () => {
  const istiod = (mode: string) => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: demo}
spec:
  jwtRules: [{issuer: https://issuer.example.com, jwksUri: https://issuer.example.com/jwks.json}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}
spec:
  selector: {matchLabels: {app: istiod}}
  template:
    metadata: {labels: {app: istiod}}
    spec:
      containers:
        - name: discovery
          image: docker.io/istio/pilot:1.30.3
          env: [{name: PILOT_JWT_ENABLE_REMOTE_JWKS, value: ${mode}}]
`;
  it("istiod fetches in istiod and hybrid mode, so the list matters; in envoy mode it fetches nothing", async () => {
    for (const mode of ["istiod", "hybrid", '"false"'])
      expect(await rulesHit("authz/jwks-fetch-unrestricted", istiod(mode)), mode).toHaveLength(1);
    expect(await rulesHit("authz/jwks-fetch-unrestricted", istiod("envoy"))).toEqual([]);
  });
});
