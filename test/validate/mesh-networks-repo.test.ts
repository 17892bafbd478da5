/**
 * IST0126 in repo mode: the clusters of the repository's mesh (clusters/*\/cluster.yaml with the
 * same meshID) are registries the primary's istiod has once their remote secrets exist, which are
 * created at install time and never rendered. The real repository at chapter 19, plus a meshNetworks
 * config as Istio's multi-network guide writes it.
 */
import { describe, expect, it } from "vitest";
import { collectRepo } from "../../scripts/lib/validate/repo-mode.ts";
import { validateScopes } from "../../scripts/lib/validate/engine.ts";
import { REPO_ROOT, testConfig } from "./helpers.ts";

const meshNetworks = (remote: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio-mesh-networks, namespace: istio-system}
data:
  meshNetworks: |-
    networks:
      network1:
        endpoints: [{fromRegistry: primary}]
        gateways: [{registryServiceName: istio-eastwestgateway.istio-system.svc.cluster.local, port: 15443}]
      network2:
        endpoints: [{fromRegistry: ${remote}}]
        gateways: [{address: 192.0.2.10, port: 15443}]
`;

describe("istio/mesh-networks-registry on the repository's mesh", () => {
  it("knows the cluster IDs of every cluster of the mesh, and nothing else", async () => {
    const config = testConfig();
    const { scopes } = await collectRepo(REPO_ROOT, config, { clusters: ["primary"], chapter: "19" });
    const primary = scopes.find((s) => s.cluster === "primary");
    expect(primary?.repo?.meshClusterIDs).toEqual(new Set(["primary", "remote"]));
    const withConfig = (remote: string) =>
      scopes.map((s) =>
        s === primary
          ? {
              ...s,
              files: [
                ...s.files,
                {
                  file: "clusters/primary/rendered/mesh/istio-system/configmap-istio-mesh-networks.yaml",
                  text: meshNetworks(remote),
                  kind: "manifests" as const,
                },
              ],
            }
          : s,
      );
    const hits = async (remote: string) =>
      (await validateScopes(withConfig(remote), config, { rules: ["istio/mesh-networks-registry"] })).findings
        .filter((f) => f.rule === "istio/mesh-networks-registry")
        .map((f) => f.message);
    expect(await hits("remote")).toEqual([]);
    // A name that is no cluster ID of the mesh (a typo) has no registry.
    const typo = await hits("remote-cluster");
    expect(typo).toHaveLength(1);
    expect(typo[0]).toContain("'remote-cluster' in network network2");
  }, 120_000);
});
