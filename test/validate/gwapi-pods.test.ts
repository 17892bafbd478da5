/**
 * The pods istiod deploys for Gateway API Gateways, as the ResourceIndex models them: labels and
 * service account as Istio 1.30's kube-gateway and waypoint templates give them.
 */
import jsYaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { gatewayApiPods } from "../../scripts/lib/validate/gwapi-pods.ts";
import { toResource, type Resource } from "../../scripts/lib/validate/resource.ts";
import { ResourceIndex } from "../../scripts/lib/validate/resource-index.ts";

function resources(yaml: string): Resource[] {
  return jsYaml
    .loadAll(yaml)
    .map((value, index) =>
      toResource(
        index,
        { index, value, positionOf: () => ({ file: "x.yaml", line: 1, column: 1 }) },
        "x.yaml",
      ),
    );
}

const gateway = (name: string, cls: string, extra = "") => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: edge, labels: {team: shop}}
spec:
  gatewayClassName: ${cls}
${extra}  listeners: [{name: http, port: 80, protocol: HTTP}]
`;

describe("gatewayApiPods", () => {
  it("a Gateway of class istio: Deployment and ServiceAccount <name>-istio, pods labelled as the kube-gateway template does", () => {
    const [pods] = gatewayApiPods(resources(gateway("web", "istio")));
    expect(pods?.deployment).toBe("web-istio");
    expect(pods?.serviceAccount).toBe("web-istio");
    expect(pods?.labels).toEqual({
      "sidecar.istio.io/inject": "false",
      "istio.io/dataplane-mode": "none",
      "service.istio.io/canonical-name": "web-istio",
      "service.istio.io/canonical-revision": "latest",
      team: "shop",
      "gateway.networking.k8s.io/gateway-name": "web",
      "gateway.networking.k8s.io/gateway-class-name": "istio",
      "gateway.istio.io/managed": "istio.io-gateway-controller",
    });
  });

  it("a waypoint keeps the Gateway's name and is out of the dataplane; infrastructure labels replace the Gateway's", () => {
    const infra =
      "  infrastructure: {labels: {tier: mesh, gateway.networking.k8s.io/gateway-name: spoofed}}\n";
    const [pods] = gatewayApiPods(resources(gateway("waypoint", "istio-waypoint", infra)));
    expect(pods?.serviceAccount).toBe("waypoint");
    expect(pods?.labels).toMatchObject({
      "istio.io/dataplane-mode": "none",
      tier: "mesh",
      "gateway.networking.k8s.io/gateway-name": "waypoint",
      "gateway.istio.io/managed": "istio.io-mesh-controller",
    });
    expect(pods?.labels.team).toBeUndefined();
  });

  it("no pods for other controllers, istio-remote, Hostname or several addresses; one IP address is still managed", () => {
    const cls = (name: string, controller: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${name}}
spec: {controllerName: ${controller}}
---
`;
    expect(gatewayApiPods(resources(gateway("a", "nginx")))).toEqual([]);
    expect(gatewayApiPods(resources(gateway("a", "istio-remote")))).toEqual([]);
    // A GatewayClass object named like a builtin wins over it.
    expect(gatewayApiPods(resources(cls("istio", "example.com/other") + gateway("a", "istio")))).toEqual([]);
    expect(
      gatewayApiPods(resources(cls("corp", "istio.io/gateway-controller") + gateway("a", "corp"))),
    ).toHaveLength(1);
    const addr = (a: string) => gateway("a", "istio", `  addresses: [${a}]\n`);
    expect(gatewayApiPods(resources(addr("{type: Hostname, value: gw.edge.svc.cluster.local}")))).toEqual([]);
    expect(gatewayApiPods(resources(addr("{value: 192.0.2.1}, {value: 192.0.2.2}")))).toEqual([]);
    expect(gatewayApiPods(resources(addr("{value: 192.0.2.1}")))).toHaveLength(1);
  });

  it("the index knows the pods as workloads of the Gateway's namespace, and their service account", () => {
    const index = new ResourceIndex(resources(gateway("web", "istio")));
    const [w] = index.workloadsSelected({ "gateway.networking.k8s.io/gateway-name": "web" }, "edge");
    expect(w?.gatewayApi).toBe("edge/web");
    expect(w?.portsUnknown).toBe(true);
    expect(index.hasServiceAccount("edge", "web-istio")).toBe(true);
    expect(index.knowsWorkloads()).toBe(false);
  });
});
