/**
 * `platform/service-not-found` on the real platform charts (offline packages from the chart mirror,
 * real helm) with this repository's composed values at chapter 19: the jaeger chart 4.0.0 renders
 * no Service named `jaeger`, which istiod's tracing provider, Kiali and Grafana point at; 4.11.1
 * does (with the ports they use). Skipped when the mirror does not hold the packages.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { CLUSTER_SCOPED_KINDS } from "../../scripts/lib/kube/kinds.ts";
import { renderClusters } from "../../scripts/lib/render/pipeline.ts";
import { resolveTool } from "../../scripts/lib/tools/resolve.ts";
import { pathScope, REPO_ROOT, run, SHARED_DIR } from "./helpers.ts";

const exec = promisify(execFile);
const MIRROR = process.env.CHART_MIRROR ?? path.join(SHARED_DIR, "charts");
const pkg = (folder: string, file: string) => path.join(MIRROR, folder, file);
const ISTIO = "istio-release.storage.googleapis.com_charts";
const CHARTS = {
  istiod: { ns: "istio-system", tgz: pkg(ISTIO, "istiod-1.30.3.tgz") },
  kiali: { ns: "istio-system", tgz: pkg("kiali.org_helm-charts", "kiali-server-2.29.0.tgz") },
  grafana: {
    ns: "observability",
    tgz: pkg("grafana-community.github.io_helm-charts", "grafana-12.11.1.tgz"),
  },
  prometheus: {
    ns: "observability",
    tgz: pkg("prometheus-community.github.io_helm-charts", "kube-prometheus-stack-88.5.3.tgz"),
  },
};
const JAEGER = (v: string) => pkg("jaegertracing.github.io_helm-charts", `jaeger-${v}.tgz`);
const available = [...Object.values(CHARTS).map((c) => c.tgz), JAEGER("4.0.0"), JAEGER("4.11.1")].every(
  existsSync,
);

describe.skipIf(!available)(
  "platform/service-not-found on the platform charts with this repository's values",
  () => {
    let tmp: string;
    let helm: string;
    let values: Map<string, string>;
    const rendered = new Map<string, string>();

    /** helm template, with the release namespace set on namespaced objects as Argo CD's destination does. */
    async function template(release: string, tgz: string, ns: string): Promise<string> {
      const file = path.join(tmp, `${release}-values.yaml`);
      await writeFile(file, values.get(release) ?? "{}\n");
      const { stdout } = await exec(helm, ["template", release, tgz, "--namespace", ns, "-f", file], {
        maxBuffer: 64 * 1024 * 1024,
        env: {
          ...process.env,
          HELM_CACHE_HOME: path.join(tmp, "cache"),
          HELM_CONFIG_HOME: path.join(tmp, "config"),
        },
      });
      return parseAllDocuments(stdout)
        .map((d) => d.toJSON() as { kind?: string; metadata?: { namespace?: string } } | null)
        .filter((o): o is { kind: string; metadata: { namespace?: string } } => !!o?.kind)
        .map((o) => {
          if (!CLUSTER_SCOPED_KINDS.has(o.kind)) o.metadata.namespace ??= ns;
          return stringify(o);
        })
        .join("---\n");
    }

    beforeAll(async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), "platform-refs-"));
      helm = await resolveTool("helm");
      const [primary] = await renderClusters(REPO_ROOT, { clusters: ["primary"], chapter: "19" });
      values = new Map(
        [...primary!.files].flatMap(([rel, text]) => {
          const m = /^values\/(.+)\.yaml$/.exec(rel);
          return m ? [[m[1]!, text] as [string, string]] : [];
        }),
      );
      for (const [release, c] of Object.entries(CHARTS))
        rendered.set(release, await template(release, c.tgz, c.ns));
    }, 300_000);
    afterAll(async () => rm(tmp, { recursive: true, force: true }));

    const check = async (jaegerVersion: string) => {
      const jaeger = await template("jaeger", JAEGER(jaegerVersion), "observability");
      const files = [...rendered, ["jaeger", jaeger] as const].map(([release, text]) => ({
        file: `platform/${release}.yaml`,
        text,
        kind: "manifests" as const,
      }));
      return (await run([pathScope(files)], { rules: ["platform/service-not-found"] })).findings;
    };

    it("jaeger 4.0.0: istiod's tracing provider, Kiali and Grafana name a Service that is not there", async () => {
      const findings = await check("4.0.0");
      expect(
        findings
          .map((f) => `${f.file} ${/(?:yaml|mesh): (.+?) does not resolve/.exec(f.message)?.[1]}`)
          .sort(),
      ).toEqual([
        "platform/grafana.yaml datasources[1] (Jaeger).url 'jaeger.observability.svc.cluster.local' port 16686",
        "platform/istiod.yaml extensionProviders[0] (otel-tracing) opentelemetry.service 'jaeger.observability.svc.cluster.local' port 4317",
        "platform/kiali.yaml external_services.tracing.internal_url 'jaeger.observability.svc.cluster.local' port 16685",
      ]);
      for (const f of findings) {
        expect(f.message).toContain("no Service 'jaeger' in namespace observability");
        // It says what is there instead.
        expect(f.message).toContain("jaeger-collector (");
        expect(f.message).toContain("jaeger-query (16686, 16685)");
      }
    }, 120_000);

    it("jaeger 4.11.1: every reference resolves to a Service with that port", async () => {
      expect(await check("4.11.1")).toEqual([]);
    }, 120_000);
  },
);
