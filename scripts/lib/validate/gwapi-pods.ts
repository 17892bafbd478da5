/**
 * The pods istiod deploys for a Gateway API Gateway (its "automated deployment"): no manifest in
 * the render holds them, yet policies select them, Services front them and AuthorizationPolicies
 * name their service account. Modelled the way Istio 1.30's gateway deployment controller renders
 * them (pilot/pkg/config/kube/gatewaycommon: classinfo.go, deploymentcontroller.go, and the
 * kube-gateway / waypoint templates of istio-discovery), so that the rules see them as workloads.
 */
import { asArray, asObj, asString, asStringMap, type Resource } from "./resource.ts";

export const GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name";
const GWAPI = "gateway.networking.k8s.io";

interface ClassInfo {
  /** Value of the pods' `gateway.istio.io/managed` label. */
  managedLabel: string;
  /** The class's template does not append `-<class>` to the Deployment and ServiceAccount names. */
  noNameSuffix: boolean;
}

/**
 * The controllers istiod deploys pods for, keyed by GatewayClass `controllerName`. The unmanaged
 * controller of `istio-remote` (a gateway of another cluster) deploys nothing.
 */
const CONTROLLERS: Record<string, ClassInfo> = {
  "istio.io/gateway-controller": {
    managedLabel: "istio.io-gateway-controller",
    noNameSuffix: false,
  },
  "istio.io/mesh-controller": {
    managedLabel: "istio.io-mesh-controller",
    noNameSuffix: true,
  },
  "istio.io/eastwest-controller": {
    managedLabel: "istio.io-eastwest-controller",
    noNameSuffix: true,
  },
  "istio.io/agentgateway-controller": {
    managedLabel: "istio.io-agentgateway-controller",
    noNameSuffix: true,
  },
};

/** The classes istiod knows without a GatewayClass object (it creates those objects itself). */
const BUILTIN_CLASSES: Record<string, string> = {
  istio: "istio.io/gateway-controller",
  "istio-waypoint": "istio.io/mesh-controller",
  "istio-east-west": "istio.io/eastwest-controller",
};

export interface GatewayApiPods {
  gateway: Resource;
  labels: Record<string, string>;
  serviceAccount: string;
  /** The Deployment istiod creates (for messages). */
  deployment: string;
}

/**
 * Istio deploys pods for a Gateway only when it is "managed": no `addresses`, or a single IP
 * address (a load balancer IP to request). A Hostname or several addresses mean the user points
 * the Gateway at a deployment of their own (manual deployment), whose pods are in the render.
 */
function managed(gw: Resource): boolean {
  const addresses = asArray(asObj(gw.object.spec).addresses);
  if (addresses.length === 0) return true;
  if (addresses.length > 1) return false;
  const type = asString(asObj(addresses[0]).type) ?? "IPAddress";
  return type === "IPAddress";
}

/** Labels copied from the Gateway: `spec.infrastructure.labels` if set, else its own labels. */
function infrastructureLabels(gw: Resource): Record<string, string> {
  const infra = asObj(asObj(gw.object.spec).infrastructure);
  if (infra.labels !== undefined) {
    const out: Record<string, string> = {};
    // istiod drops the Gateway API's own prefix there, so users cannot override its labels.
    for (const [k, v] of Object.entries(asStringMap(infra.labels)))
      if (!k.startsWith(`${GWAPI}/`)) out[k] = v;
    return out;
  }
  return asStringMap(asObj(gw.object.metadata).labels);
}

/** The pods of every Gateway API Gateway of an Istio class among `resources`. */
export function gatewayApiPods(resources: readonly Resource[]): GatewayApiPods[] {
  const gateways = resources.filter((r) => r.kind === "Gateway" && r.group === GWAPI);
  if (gateways.length === 0) return [];
  const controllers = new Map<string, string>(Object.entries(BUILTIN_CLASSES));
  // A GatewayClass object wins over the builtin of the same name (istiod reads the object first).
  for (const gc of resources)
    if (gc.kind === "GatewayClass" && gc.group === GWAPI)
      controllers.set(gc.name, asString(asObj(gc.object.spec).controllerName) ?? "");
  const out: GatewayApiPods[] = [];
  for (const gw of gateways) {
    const cls = asString(asObj(gw.object.spec).gatewayClassName) ?? "";
    const info = CONTROLLERS[controllers.get(cls) ?? ""];
    if (!info || !managed(gw)) continue;
    const annotations = asStringMap(asObj(gw.object.metadata).annotations);
    const defaultName = info.noNameSuffix ? gw.name : `${gw.name}-${cls}`;
    const deployment = annotations["gateway.istio.io/name-override"] || defaultName;
    out.push({
      gateway: gw,
      labels: {
        "sidecar.istio.io/inject": "false",
        // Out of Ambient's capture: the waypoint template says so, and istiod adds it to the other
        // classes' pods whenever Ambient is on (unless the Gateway sets the label itself).
        "istio.io/dataplane-mode": "none",
        "service.istio.io/canonical-name": deployment,
        "service.istio.io/canonical-revision": "latest",
        ...infrastructureLabels(gw),
        [GATEWAY_NAME_LABEL]: gw.name,
        "gateway.networking.k8s.io/gateway-class-name": cls,
        "gateway.istio.io/managed": info.managedLabel,
      },
      serviceAccount: annotations["gateway.istio.io/service-account"] || defaultName,
      deployment,
    });
  }
  return out;
}
