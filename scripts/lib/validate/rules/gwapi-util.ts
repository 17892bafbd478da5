/** Shared by the Gateway API rules: routes, their parent and backend references. */
import { asArray, asObj, asString, type Obj, type Resource } from "../resource.ts";
import type { ResourceIndex } from "../resource-index.ts";

export const GWAPI = "gateway.networking.k8s.io";
export const ROUTE_KINDS = ["HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute"];

export function routes(index: ResourceIndex): Resource[] {
  return ROUTE_KINDS.flatMap((k) => index.of(k)).filter((r) => r.group === GWAPI);
}

export interface Ref {
  group: string;
  kind: string;
  name: string;
  ns: string;
  path: Array<string | number>;
}

export function parentRefs(route: Resource): Ref[] {
  return asArray(asObj(route.object.spec).parentRefs).map((p, i) => {
    const o = asObj(p);
    return {
      group: asString(o.group) ?? GWAPI,
      kind: asString(o.kind) ?? "Gateway",
      name: asString(o.name) ?? "",
      ns: asString(o.namespace) ?? route.ns,
      path: ["spec", "parentRefs", i],
    };
  });
}

export function backendRefs(route: Resource): Ref[] {
  const out: Ref[] = [];
  asArray(asObj(route.object.spec).rules).forEach((rule, i) => {
    asArray(asObj(rule).backendRefs).forEach((b, j) => {
      const o: Obj = asObj(b);
      out.push({
        group: asString(o.group) ?? "",
        kind: asString(o.kind) ?? "Service",
        name: asString(o.name) ?? "",
        ns: asString(o.namespace) ?? route.ns,
        path: ["spec", "rules", i, "backendRefs", j],
      });
    });
  });
  return out;
}

export function gatewayApiGateways(index: ResourceIndex): Resource[] {
  return index.allOf("Gateway").filter((g) => g.group === GWAPI);
}

/** The Gateway API Gateways of this cluster, not of the mesh's other clusters (each has its own). */
export function clusterGateways(index: ResourceIndex): Resource[] {
  return index.of("Gateway").filter((g) => g.group === GWAPI);
}
