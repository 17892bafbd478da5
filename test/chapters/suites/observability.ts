/** Chapters 06-08: tracing, metrics and dashboards, the TLS ingress gateway. */
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { codeBlocks, lesson } from "../lesson.ts";
import { envOf, rendered, type Loose } from "../render-cache.ts";

describe("06 tracing", () => {
  it("sends every proxy's spans to Jaeger through a named OpenTelemetry provider", async () => {
    const r = await rendered("primary", 6);
    expect(r.releases()).toContain("jaeger");
    const mesh = r.values("istiod").meshConfig;
    expect(mesh.enableTracing).toBe(true);
    const provider = (mesh.extensionProviders as Loose[]).find((p) => p.opentelemetry);
    expect(provider.opentelemetry).toEqual({ service: "jaeger.observability.svc.cluster.local", port: 4317 });
    // The Jaeger release lives where the provider points.
    expect(r.application("jaeger").spec.destination.namespace).toBe("observability");

    const telemetry = r.mesh("Telemetry", "istio-system", "mesh-default");
    expect(telemetry.spec.tracing[0].providers[0].name).toBe(provider.name);
    expect(telemetry.spec.tracing[0].randomSamplingPercentage).toBe(100);
  });

  it("keeps the application forwarding trace headers", async () => {
    const r = await rendered("primary", 6);
    expect(r.values("workshop-app").global.propagateTraceHeaders).toBe(true);
    expect(envOf(r.app("Deployment", "frontend-portal-v1")).PROPAGATE_TRACE_HEADERS).toBe("true");
  });
});

/**
 * The scrape pools and `job` labels the Prometheus Operator generates for a monitor (its CRDs'
 * jobLabel documentation): pool `<kind>/<ns>/<name>/<endpoint index>`; job from the label that
 * `jobLabel` names on the selected object, else `<ns>/<name>` (PodMonitor) or the Service's name.
 */
function prometheusJobs(
  monitor: Loose,
  labelsOfTargets: Array<Record<string, string>>,
  serviceName?: string,
): Array<{ pool: string; job: string }> {
  const pod = monitor.kind === "PodMonitor";
  const endpoints: Loose[] = pod ? monitor.spec.podMetricsEndpoints : monitor.spec.endpoints;
  const kind = pod ? "podMonitor" : "serviceMonitor";
  const { namespace, name } = monitor.metadata;
  const fromLabel = monitor.spec.jobLabel
    ? [...new Set(labelsOfTargets.map((l) => l[monitor.spec.jobLabel]).filter(Boolean))]
    : [];
  const fallback = pod ? `${namespace}/${name}` : serviceName!;
  return endpoints.map((_, i) => ({
    pool: `${kind}/${namespace}/${name}/${i}`,
    job: fromLabel.length === 1 ? fromLabel[0]! : fallback,
  }));
}

describe("07 observability: the Prometheus jobs the lesson names", () => {
  it("names the scrape pools and job labels the monitors produce", async () => {
    const r = await rendered("primary", 7);
    const text = lesson("07-observability").replace(/\s+/g, " ");
    const pods = r.mesh("PodMonitor", "istio-system", "envoy-stats-monitor");
    // The pods it scrapes: every workshop pod template's labels.
    const podLabels = r
      .appFiles()
      .filter((f) => f.includes("/deployment-"))
      .map((f) => r.yaml(f).spec.template.metadata.labels as Record<string, string>);
    expect(podLabels.length).toBeGreaterThan(3);
    const istiod = r.mesh("ServiceMonitor", "istio-system", "istio-component-monitor");
    // The Service it selects carries istio=<the selector's one value> (istiod's chart: istio: pilot).
    const selected = istiod.spec.selector.matchExpressions.find((e: Loose) => e.key === "istio").values;
    expect(selected).toEqual(["pilot"]);
    const jobs = [
      ...prometheusJobs(pods, podLabels),
      ...prometheusJobs(istiod, [{ istio: selected[0], app: "istiod" }], "istiod"),
    ];
    expect(jobs).toEqual([
      { pool: "podMonitor/istio-system/envoy-stats-monitor/0", job: "istio-system/envoy-stats-monitor" },
      { pool: "serviceMonitor/istio-system/istio-component-monitor/0", job: "pilot" },
    ]);
    for (const { pool, job } of jobs) {
      expect(text).toContain(`\`${pool}\``);
      expect(text).toContain(`\`job="${job}"`);
    }
    expect(text).not.toMatch(/the `envoy-stats` job/);
    // A jobLabel naming a label no scraped pod carries would only mislead.
    if (pods.spec.jobLabel) expect(podLabels.some((l) => pods.spec.jobLabel in l)).toBe(true);
  });
});

describe("07 observability", () => {
  const PROMETHEUS = "http://prometheus-kube-prometheus-prometheus.observability.svc.cluster.local:9090";

  it("scrapes every proxy and istiod with Prometheus Operator monitors", async () => {
    const r = await rendered("primary", 7);
    const pods = r.mesh("PodMonitor", "istio-system", "envoy-stats-monitor");
    expect(pods.spec.namespaceSelector.any).toBe(true);
    expect(pods.spec.podMetricsEndpoints[0].path).toBe("/stats/prometheus");
    const istiod = r.mesh("ServiceMonitor", "istio-system", "istio-component-monitor");
    expect(istiod.spec.selector.matchExpressions[0]).toEqual({
      key: "istio",
      operator: "In",
      values: ["pilot"],
    });
    expect(istiod.spec.endpoints[0].port).toBe("http-monitoring");
    // Monitors without the chart's release label are only picked up with these two off.
    const spec = r.values("prometheus").prometheus.prometheusSpec;
    expect(spec.podMonitorSelectorNilUsesHelmValues).toBe(false);
    expect(spec.serviceMonitorSelectorNilUsesHelmValues).toBe(false);
    expect(r.values("prometheus").grafana.enabled).toBe(false);
  });

  it("wires Grafana and Kiali to the same Prometheus, and Kiali to Grafana and Jaeger", async () => {
    const r = await rendered("primary", 7);
    const grafana = r.values("grafana");
    const sources: Loose[] = grafana.datasources["datasources.yaml"].datasources;
    expect(sources.find((s) => s.type === "prometheus").url).toBe(PROMETHEUS);
    expect(Object.values(grafana.dashboards.istio).map((d: Loose) => d.gnetId)).toEqual(
      expect.arrayContaining([7639, 7636, 7630, 7645]),
    );
    const kiali = r.values("kiali").external_services;
    expect(kiali.prometheus.url).toBe(PROMETHEUS);
    expect(kiali.grafana.internal_url).toBe("http://grafana.observability.svc.cluster.local");
    expect(kiali.tracing.provider).toBe("jaeger");
    expect(kiali.tracing.internal_url).toContain("jaeger.observability.svc.cluster.local");
    expect(r.application("kiali").spec.destination.namespace).toBe("istio-system");
  });

  it("turns on access logs in the mesh-wide Telemetry", async () => {
    const telemetry = (await rendered("primary", 7)).mesh("Telemetry", "istio-system", "mesh-default");
    expect(telemetry.spec.accessLogging[0].providers[0].name).toBe("envoy");
    expect(telemetry.spec.tracing[0].randomSamplingPercentage).toBe(100);
  });
});

describe("08 gateway and TLS: the ACME example", () => {
  it("uses a solver that can reach this repository's gateway", async () => {
    const r = await rendered("primary", 8);
    const text = lesson("08-gateway-and-tls");
    const issuers = codeBlocks(text, "yaml")
      .flatMap((b) => parseAllDocuments(b).map((d) => d.toJSON() as Loose))
      .filter((o) => o?.kind === "ClusterIssuer" && o.spec?.acme);
    expect(issuers).toHaveLength(1);
    const gateway = r.mesh("Gateway", "istio-ingress", "portal-gateway");
    const mesh = r.values("istiod").meshConfig ?? {};
    for (const solver of issuers[0].spec.acme.solvers as Loose[]) {
      if (solver.dns01) continue; // no challenge traffic through the gateway
      const ingress = solver.http01?.ingress;
      expect(ingress, "an HTTP-01 solver through Istio's ingress controller").toBeDefined();
      // istiod programs the gateway pods meshConfig.ingressSelector names (default ingressgateway)...
      expect(ingress.ingressClassName ?? ingress.class).toBe(mesh.ingressClass ?? "istio");
      expect(gateway.spec.selector).toEqual({ istio: mesh.ingressSelector ?? "ingressgateway" });
      // ...and the challenge must be answered on port 80, not redirected to HTTPS.
      const http = gateway.spec.servers.find((x: Loose) => x.port.number === 80);
      expect(http?.tls?.httpsRedirect).not.toBe(true);
    }
    // The lesson explains why the common ingressClassName example does not fit.
    expect(text.replace(/\s+/g, " ")).toContain("`meshConfig.ingressSelector: ingress`");
  });
});

describe("08 gateway and TLS with cert-manager", () => {
  it("issues the portal certificate in the gateway's namespace from the workshop CA", async () => {
    const r = await rendered("primary", 8);
    expect(r.values("cert-manager").crds.enabled).toBe(true);
    const cert = r.mesh("Certificate", "istio-ingress", "portal-tls");
    expect(cert.spec.dnsNames).toEqual(["portal.workshop.example"]);
    expect(cert.spec.issuerRef.name).toBe("workshop-ca");
    const ca = r.mesh("Issuer", "istio-ingress", "workshop-ca");
    expect(r.mesh("Certificate", "istio-ingress", "workshop-ca").spec.secretName).toBe(ca.spec.ca.secretName);
  });

  it("terminates HTTPS with that secret and redirects HTTP, on the `istio: ingress` pods", async () => {
    const r = await rendered("primary", 8);
    const gw = r.mesh("Gateway", "istio-ingress", "portal-gateway");
    // The gateway chart labels the pods of release istio-ingress `istio: ingress`.
    expect(gw.spec.selector).toEqual({ istio: "ingress" });
    const http = gw.spec.servers.find((s: Loose) => s.port.number === 80);
    const https = gw.spec.servers.find((s: Loose) => s.port.number === 443);
    expect(http.tls.httpsRedirect).toBe(true);
    expect(https.tls.mode).toBe("SIMPLE");
    expect(https.tls.credentialName).toBe(
      r.mesh("Certificate", "istio-ingress", "portal-tls").spec.secretName,
    );
    expect(https.hosts).toEqual(["portal.workshop.example"]);
  });

  it("binds the portal to the gateway and marks the session cookie Secure", async () => {
    const r = await rendered("primary", 8);
    const vs = r.mesh("VirtualService", "workshop", "frontend-portal-ingress");
    expect(vs.spec.gateways).toEqual(["istio-ingress/portal-gateway"]);
    expect(vs.spec.hosts).toEqual(["portal.workshop.example"]);
    expect(vs.spec.http.at(-1).route[0].destination.host).toBe("frontend-portal.workshop.svc.cluster.local");
    expect(envOf(r.app("Deployment", "frontend-portal-v1")).SECURE_COOKIE).toBe("true");
  });
});

describe("07 credentials: from Secrets the learner creates, never generated by the charts", () => {
  const text = lesson("07-observability");
  const promote = text.slice(text.indexOf("## Promote"), text.indexOf("## Verify"));
  /** `kubectl -n NS create secret generic NAME --from-literal=KEY=...` commands of the Promote step. */
  const secrets = new Map<string, Set<string>>();
  for (const m of promote
    .replace(/\\\n\s*/g, " ")
    .matchAll(/kubectl -n (\S+) create secret generic (\S+)([^\n]*)/g))
    secrets.set(
      `${m[1]}/${m[2]}`,
      new Set([...m[3]!.matchAll(/--from-literal=([\w-]+)=/g)].map((k) => k[1]!)),
    );

  it("Grafana's admin login comes from grafana-admin, which the lesson creates before promoting", async () => {
    const admin = (await rendered("primary", 7)).values("grafana").admin;
    expect(admin.existingSecret).toBe("grafana-admin");
    const keys = secrets.get(`observability/${admin.existingSecret}`);
    expect(keys).toEqual(new Set([admin.userKey, admin.passwordKey]));
    expect(promote.indexOf("create secret generic grafana-admin")).toBeLessThan(
      promote.indexOf("pnpm promote"),
    );
  });

  it("Kiali logs in to Grafana (its dashboard links get no 401) and signs tokens with a key from a Secret", async () => {
    const kiali = (await rendered("primary", 7)).values("kiali");
    const auth = kiali.external_services.grafana.auth;
    expect(auth.type).toBe("basic");
    expect(auth.username).toBe("admin");
    // The chart mounts `secret:<name>:<key>` references from Kiali's own namespace.
    const refs = [auth.password, kiali.login_token.signing_key].map((v: string) =>
      /^secret:([^:]+):(.+)$/.exec(v),
    );
    for (const ref of refs) {
      expect(ref).not.toBeNull();
      expect(secrets.get(`istio-system/${ref![1]}`)).toContain(ref![2]);
    }
  });
});
