import type { Finding } from "../findings.ts";
import type { Cluster } from "./types.ts";
import { parseSingleDocument } from "./schema-check.ts";
import clusterSchema from "../../schemas/cluster.schema.json" with { type: "json" };

export interface Loaded<T> {
  value?: T;
  findings: Finding[];
}

/** Parses and checks one cluster.yaml. `dirName` is the folder it lives in, which must equal `name`. */
export function parseCluster(text: string, file: string, dirName: string): Loaded<Cluster> {
  const { doc, findings } = parseSingleDocument(text, file, clusterSchema, "model/cluster", "cluster.yaml");
  if (!doc) return { findings };
  const raw = doc.value as Omit<Cluster, "file" | "chapterPosition" | "argocd"> & {
    argocd: Omit<Cluster["argocd"], "targetRevision" | "namespace"> & {
      targetRevision?: string;
      namespace?: string;
    };
  };
  if (raw.name !== dirName) {
    findings.push({
      ...doc.positionOf(["name"], "value"),
      rule: "model/cluster",
      severity: "error",
      anchors: [],
      message: `cluster name '${raw.name}' does not match its folder clusters/${dirName}/`,
      hint: `rename the folder or set name: ${dirName}`,
    });
  }
  if (raw.role === "remote" && !raw.istio.primaryCluster) {
    findings.push({
      ...doc.positionOf(["istio"], "key"),
      rule: "model/cluster",
      severity: "error",
      anchors: [],
      message: "a remote cluster must name the primary cluster that runs its control plane",
      hint: "add istio.primaryCluster: <name of the primary cluster>",
    });
  }
  if (findings.length) return { findings };
  return {
    value: {
      ...raw,
      argocd: {
        ...raw.argocd,
        targetRevision: raw.argocd.targetRevision ?? "main",
        namespace: raw.argocd.namespace ?? "argocd",
      },
      file,
      chapterPosition: doc.positionOf(["chapter"], "value"),
    },
    findings,
  };
}
