/**
 * The injector's value checks (inject-validation.ts) on the strings istiod's Go parsers accept and
 * refuse: strconv, netip.ParsePrefix, resource.ParseQuantity, the agent's ProxyConfig validation.
 */
import { describe, expect, it } from "vitest";
import {
  INJECT_VALIDATION,
  prefixError,
  proxyConfigError,
} from "../../scripts/lib/validate/inject-validation.ts";

const check = (name: string, value: string) => INJECT_VALIDATION[name]!(value);

describe("sidecar injector annotation values", () => {
  it("CIDR lists: netip prefixes, split on ',' without trimming", () => {
    const ex = "traffic.sidecar.istio.io/excludeOutboundIPRanges";
    expect(check(ex, "10.0.0.0/8,172.16.0.0/12")).toBeUndefined();
    expect(check(ex, "")).toBeUndefined();
    expect(check(ex, "fd00::/8,::1/128")).toBeUndefined();
    expect(check(ex, "10.0.0.0/8, 172.16.0.0/12")).toMatch(/172\.16/);
    expect(check(ex, "10.0.0.0")).toMatch(/no '\/'/);
    expect(check(ex, "10.0.0.0/33")).toMatch(/out of range/);
    expect(check(ex, "10.0.0.0/08")).toMatch(/bad bits/);
    expect(check(ex, "010.0.0.0/8")).toMatch(/no valid IP/);
    expect(check(ex, "*")).toMatch(/no '\/'/);
    expect(check("traffic.sidecar.istio.io/includeOutboundIPRanges", "*")).toBeUndefined();
    expect(prefixError("fe80::1%eth0/64")).toMatch(/no valid IP/);
  });

  it("port lists and the status port: trimmed, 0-65535", () => {
    const ex = "traffic.sidecar.istio.io/excludeInboundPorts";
    expect(check(ex, " 8080, 9090 ")).toBeUndefined();
    expect(check(ex, "")).toBeUndefined();
    expect(check(ex, "8080,")).toBeDefined();
    expect(check(ex, "65536")).toBeDefined();
    expect(check(ex, "http")).toBeDefined();
    expect(check(ex, "*")).toBeDefined();
    expect(check("traffic.sidecar.istio.io/includeInboundPorts", "*")).toBeUndefined();
    expect(check("status.sidecar.istio.io/port", "15021")).toBeUndefined();
    expect(check("status.sidecar.istio.io/port", "-1")).toBeDefined();
  });

  it("integers, booleans, interception mode, interfaces", () => {
    expect(check("readiness.status.sidecar.istio.io/periodSeconds", "5")).toBeUndefined();
    expect(check("readiness.status.sidecar.istio.io/periodSeconds", "+5")).toBeDefined();
    expect(check("readiness.status.sidecar.istio.io/periodSeconds", "1.5")).toBeDefined();
    expect(check("readiness.status.sidecar.istio.io/failureThreshold", "4294967296")).toBeDefined();
    expect(check("prometheus.istio.io/merge-metrics", "False")).toBeUndefined();
    expect(check("prometheus.istio.io/merge-metrics", "no")).toBeDefined();
    expect(check("sidecar.istio.io/interceptionMode", "NONE")).toBeUndefined();
    expect(check("sidecar.istio.io/interceptionMode", "redirect")).toBeDefined();
    expect(check("traffic.sidecar.istio.io/excludeInterfaces", "eth0, net1.5")).toBeUndefined();
    expect(check("traffic.sidecar.istio.io/excludeInterfaces", "eth0,,eth1")).toBeDefined();
    expect(check("traffic.sidecar.istio.io/excludeInterfaces", "0eth")).toBeDefined();
    expect(check("traffic.sidecar.istio.io/excludeInterfaces", "a-very-long-interface")).toBeDefined();
  });

  it("resource quantities as Kubernetes parses them", () => {
    for (const ok of ["50m", "0.5", "1", "128Mi", "1Gi", "1e3", "1E", ".5", "+1k"])
      expect(check("sidecar.istio.io/proxyCPU", ok), ok).toBeUndefined();
    for (const bad of ["", "128MB", "200 m", " 50m", "1mi", "1e", "1e3m", "fast"])
      expect(check("sidecar.istio.io/proxyMemory", bad), bad).toBeDefined();
  });

  it("proxy.istio.io/config: types and the agent's checks, unknown fields tolerated", () => {
    expect(proxyConfigError("holdApplicationUntilProxyStarts: true")).toBeUndefined();
    expect(proxyConfigError("holdApplicationUntilProxyStarts: yes")).toBeUndefined();
    expect(proxyConfigError('concurrency: "2"\nsomeFutureField: 1')).toBeUndefined();
    expect(proxyConfigError("")).toBeUndefined();
    expect(proxyConfigError("holdApplicationUntilProxyStarts: maybe")).toMatch(/holdApplication/);
    expect(proxyConfigError("concurrency: two")).toMatch(/concurrency/);
    expect(proxyConfigError("drainDuration: 1.5s")).toMatch(/whole seconds/);
    expect(proxyConfigError("drainDuration: 0s")).toMatch(/1ms/);
    expect(proxyConfigError("drainDuration: 10")).toMatch(/duration/);
    expect(proxyConfigError("statusPort: 0")).toMatch(/statusPort/);
    expect(proxyConfigError("discoveryAddress: istiod.istio-system.svc")).toMatch(/host:port/);
    expect(proxyConfigError("discoveryAddress: istiod.istio-system.svc:15012")).toBeUndefined();
    expect(proxyConfigError("controlPlaneAuthPolicy: INHERIT")).toMatch(/NONE, MUTUAL_TLS/);
    expect(proxyConfigError("proxyMetadata: {A: 1}")).toMatch(/proxyMetadata/);
    expect(proxyConfigError("- a list")).toMatch(/mapping/);
    expect(proxyConfigError("a: [")).toMatch(/not YAML/);
  });
});
