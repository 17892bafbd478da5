import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, type Obj } from "../resource.ts";
import { gatewayWorkloads, protocolOfAppProtocol, protocolOfPortName, targetPortOf } from "../istio.ts";
import { actionOf, policyWorkloads, rulesOf } from "./authz-util.ts";
import { servicesOf } from "./mesh.ts";

const HTTP_OPERATION = ["methods", "notMethods", "paths", "notPaths", "hosts", "notHosts"];
const HTTP_PROTOCOLS = new Set(["http", "http2", "grpc", "grpc-web", "h2c", "ws"]);

/** The first HTTP-only attribute of a rule, if any (what a TCP connection cannot be matched on). */
function httpField(rule: Obj): string | undefined {
  for (const t of asArray(rule.to))
    for (const k of HTTP_OPERATION) if (asArray(asObj(asObj(t).operation)[k]).length) return k;
  for (const f of asArray(rule.from))
    for (const k of ["requestPrincipals", "notRequestPrincipals"])
      if (asArray(asObj(asObj(f).source)[k]).length) return k;
  for (const w of asArray(rule.when)) {
    const key = asString(asObj(w).key) ?? "";
    if (key.startsWith("request.")) return `when ${key}`;
  }
  return undefined;
}

export default defineRule({
  code: "authz/http-on-tcp-port",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "HTTP conditions are not applied to ports that carry plain TCP",
  description:
    "On a port the Services declare as TCP (or TLS, HTTPS from the application itself, MySQL, Redis, MongoDB...: by name or appProtocol), the sidecar sees connections, not requests: methods, paths, hosts, request principals and `request.*` conditions cannot be evaluated. Istio then drops such an ALLOW rule (it never matches: the connections are denied) and applies such a DENY rule without its HTTP conditions (it denies every connection on the port). The generalisation of `authz/deny-http-only` to rules that name their ports. Gateway pods are not checked: what they speak is what their Gateway's servers say.",
  hint: "name the port HTTP in the Service (`http-...` or appProtocol: http) if it speaks HTTP, or match TCP attributes (principals, namespaces, ipBlocks, ports) only",
  check({ index }) {
    const out: Report[] = [];
    const services = index.allOf("Service");
    let pods: Set<unknown> | undefined;
    const gatewayPods = {
      has: (w: unknown) =>
        (pods ??= new Set(index.allOf("Gateway").flatMap((gw) => gatewayWorkloads(index, gw)))).has(w),
    };
    for (const ap of index.of("AuthorizationPolicy")) {
      const candidates = rulesOf(ap).some(
        (r) => httpField(r) && asArray(r.to).some((t) => asArray(asObj(asObj(t).operation).ports).length),
      );
      if (!candidates) continue;
      // Gateway pods speak what their Gateway's servers say (HTTPS terminated there is HTTP), not
      // what their Service's port names say: they are not checked.
      const ws = (policyWorkloads(index, ap) ?? []).filter((w) => w.resource && !gatewayPods.has(w));
      if (ws.length === 0) continue;
      // Workload port -> the protocols the Services give it.
      const protocols = new Map<number, Set<string>>();
      for (const w of ws)
        for (const svc of servicesOf(services, w.ns, w.labels))
          for (const sp of asArray(asObj(svc.object.spec).ports).map(asObj)) {
            if (typeof sp.port !== "number") continue;
            const tp = targetPortOf(svc, sp.port, w);
            if (tp === undefined) continue;
            const proto =
              (typeof sp.appProtocol === "string" && protocolOfAppProtocol(sp.appProtocol)) ||
              (typeof sp.name === "string" && protocolOfPortName(sp.name)) ||
              "unknown";
            protocols.set(tp, (protocols.get(tp) ?? new Set()).add(proto));
          }
      rulesOf(ap).forEach((rule, i) => {
        const field = httpField(rule);
        if (!field) return;
        asArray(rule.to).forEach((t, j) => {
          asArray(asObj(asObj(t).operation).ports).forEach((p, k) => {
            const set = typeof p === "string" ? protocols.get(Number(p)) : undefined;
            // Only ports every Service declares as a non-HTTP protocol (sniffed ports may be HTTP).
            if (!set || [...set].some((x) => HTTP_PROTOCOLS.has(x) || x === "unknown")) return;
            out.push({
              resource: ap,
              path: ["spec", "rules", i, "to", j, "operation", "ports", k],
              message: `${describe(ap)} rules[${i}] matches ${field} on port ${String(p)}, which its Services declare as ${[...set].join("/")}: ${actionOf(ap) === "DENY" ? "the DENY applies to every connection on it" : "the rule never matches"}`,
            });
          });
        });
      });
    }
    return out;
  },
});
